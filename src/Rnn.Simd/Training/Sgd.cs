using Rnn.Simd.Internal;

namespace Rnn.Simd.Training;

/// <summary>Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2 weight decay (PyTorch's <c>torch.optim.SGD</c>).</summary>
/// <remarks>
/// Per element, in float32, as PyTorch 1.13's <c>_single_tensor_sgd</c> (fma = one rounding):
/// <code>
///   d = weight_decay ≠ 0 ? fma(p, wd, g) : g                          grad.add(param, alpha=wd)
///   if momentum ≠ 0:
///       b = first step ? d : fma(d, 1 − dampening, b · momentum)     buf.mul_(momentum).add_(d, alpha=1−dampening)
///       d = nesterov ? fma(b, momentum, d) : b                       d.add(buf, alpha=momentum)
///   p = fma(d, −lr, p)                                               param.add_(d, alpha=−lr)
/// </code>
/// On the first step the momentum buffer is the (decayed) gradient itself, undampened: PyTorch's rule.
/// </remarks>
public sealed class Sgd : Optimizer
{
    private float[] _momentumBuffer = [];
    private bool _hasBuffer;
    private float _negLr;

    /// <summary>Creates the optimiser; the defaults are PyTorch's (except <c>lr</c>, which PyTorch requires).</summary>
    /// <param name="learningRate">lr ≥ 0.</param>
    /// <param name="momentum">Momentum factor ≥ 0; 0 turns momentum off.</param>
    /// <param name="dampening">Dampening of the momentum, in [0, 1] by convention (any finite value is accepted, as PyTorch does).</param>
    /// <param name="weightDecay">L2 penalty ≥ 0, added to the gradient.</param>
    /// <param name="nesterov">Nesterov momentum; needs momentum &gt; 0 and dampening 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A hyperparameter is negative, NaN or infinite.</exception>
    /// <exception cref="ArgumentException"><paramref name="nesterov"/> without momentum or with dampening.</exception>
    public Sgd(double learningRate, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false)
        : base(learningRate, weightDecay)
    {
        ValidateNonNegative(momentum, nameof(momentum));
        if (!double.IsFinite(dampening))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(dampening), $"Must be finite, was {dampening}.");
        }

        if (nesterov && (momentum <= 0 || dampening != 0))
        {
            ThrowHelper.Argument(nameof(nesterov), "Nesterov momentum needs a positive momentum and zero dampening.");
        }

        Momentum = momentum;
        Dampening = dampening;
        Nesterov = nesterov;
    }

    /// <summary>The momentum factor (0 = none).</summary>
    public double Momentum { get; }

    /// <summary>The dampening of the momentum.</summary>
    public double Dampening { get; }

    /// <summary>Whether the momentum is Nesterov's.</summary>
    public bool Nesterov { get; }

    private protected override void AllocateState(int length)
    {
        if (Momentum != 0)
        {
            _momentumBuffer = new float[length];
        }
    }

    private protected override IEnumerable<(string Name, float[] Buffer)> StateBuffers()
    {
        if (Momentum != 0)
        {
            yield return ("momentum_buffer", _momentumBuffer);
        }
    }

    /// <summary>A restored run is past its first step: the buffer holds momentum, as after <see cref="EndStep"/>.</summary>
    private protected override void StateImported() => _hasBuffer = Momentum != 0;

    private protected override void BeginStep(long step) => _negLr = (float)-LearningRate;

    private protected override void Update(int offset, Span<float> values, ReadOnlySpan<float> gradients, double weightDecay)
    {
        float wd = (float)weightDecay, negLr = _negLr;
        bool decay = weightDecay != 0;
        if (Momentum == 0)
        {
            for (int i = 0; i < values.Length; i++)
            {
                float d = decay ? Mad.Fma(values[i], wd, gradients[i]) : gradients[i];
                values[i] = Mad.Fma(d, negLr, values[i]);
            }

            return;
        }

        float momentum = (float)Momentum, keep = (float)(1 - Dampening);
        Span<float> buffer = _momentumBuffer.AsSpan(offset, values.Length);
        bool first = !_hasBuffer;
        for (int i = 0; i < values.Length; i++)
        {
            float d = decay ? Mad.Fma(values[i], wd, gradients[i]) : gradients[i];
            float b = first ? d : Mad.Fma(d, keep, buffer[i] * momentum);
            buffer[i] = b;
            d = Nesterov ? Mad.Fma(b, momentum, d) : b;
            values[i] = Mad.Fma(d, negLr, values[i]);
        }
    }

    private protected override void EndStep() => _hasBuffer = Momentum != 0;
}
