namespace Rnn.Simd.Training;

/// <summary>RMSProp (Hinton's lecture 6e; centred as Graves, 2013) with optional momentum and L2 weight decay (PyTorch's <c>torch.optim.RMSprop</c>).</summary>
/// <remarks>
/// Per element, in float32, as PyTorch 1.13's <c>_single_tensor_rmsprop</c> (fma = one rounding):
/// <code>
///   g = weight_decay ≠ 0 ? fma(p, wd, g) : g                 grad.add(param, alpha=wd)
///   s = fma((1 − α) · g, g, s · α)                           square_avg.mul_(α).addcmul_(g, g, value=1−α)
///   centred:  ḡ = fma(g, 1 − α, ḡ · α);  a = √fma(−ḡ, ḡ, s)   grad_avg …; square_avg.addcmul(ḡ, ḡ, value=−1).sqrt_()
///   else:     a = √s
///   a = a + ε
///   momentum &gt; 0:  b = b · momentum + g / a;  p = fma(b, −lr, p)
///   else:          p = p + (−lr · g) / a
/// </code>
/// </remarks>
public sealed class RmsProp : Optimizer
{
    private float[] _square = [];     // square_avg
    private float[] _mean = [];       // grad_avg (centred only)
    private float[] _buffer = [];     // momentum_buffer (momentum > 0 only)
    private float _negLr;

    /// <summary>Creates the optimiser; the defaults are PyTorch's.</summary>
    /// <param name="learningRate">lr ≥ 0.</param>
    /// <param name="alpha">α ≥ 0, the smoothing constant of the running averages.</param>
    /// <param name="epsilon">ε ≥ 0, added to the denominator.</param>
    /// <param name="weightDecay">L2 penalty ≥ 0, added to the gradient.</param>
    /// <param name="momentum">Momentum factor ≥ 0; 0 turns momentum off.</param>
    /// <param name="centered">Normalise by the estimated variance (subtract the squared running mean of the gradient).</param>
    /// <exception cref="ArgumentOutOfRangeException">A hyperparameter is negative, NaN or infinite.</exception>
    public RmsProp(double learningRate = 1e-2, double alpha = 0.99, double epsilon = 1e-8, double weightDecay = 0, double momentum = 0, bool centered = false)
        : base(learningRate, weightDecay)
    {
        ValidateNonNegative(alpha, nameof(alpha));
        ValidateNonNegative(epsilon, nameof(epsilon));
        ValidateNonNegative(momentum, nameof(momentum));
        Alpha = alpha;
        Epsilon = epsilon;
        Momentum = momentum;
        Centered = centered;
    }

    /// <summary>α, the smoothing constant.</summary>
    public double Alpha { get; }

    /// <summary>ε, added to the denominator.</summary>
    public double Epsilon { get; }

    /// <summary>The momentum factor (0 = none).</summary>
    public double Momentum { get; }

    /// <summary>Whether the variance estimate is centred.</summary>
    public bool Centered { get; }

    private protected override void AllocateState(int length)
    {
        _square = new float[length];
        if (Centered)
        {
            _mean = new float[length];
        }

        if (Momentum > 0)
        {
            _buffer = new float[length];
        }
    }

    private protected override IEnumerable<(string Name, float[] Buffer)> StateBuffers()
    {
        yield return ("square_avg", _square);
        if (Centered)
        {
            yield return ("grad_avg", _mean);
        }

        if (Momentum > 0)
        {
            yield return ("momentum_buffer", _buffer);
        }
    }

    private protected override void BeginStep(long step) => _negLr = (float)-LearningRate;

    private protected override void Update(int offset, Span<float> values, ReadOnlySpan<float> gradients, double weightDecay)
    {
        int n = values.Length;
        Span<float> square = _square.AsSpan(offset, n);
        Span<float> mean = Centered ? _mean.AsSpan(offset, n) : default;
        Span<float> buffer = Momentum > 0 ? _buffer.AsSpan(offset, n) : default;
        float wd = (float)weightDecay, alpha = (float)Alpha, oneMinusAlpha = (float)(1 - Alpha);
        float epsilon = (float)Epsilon, momentum = (float)Momentum, negLr = _negLr;
        bool decay = weightDecay != 0;
        for (int i = 0; i < n; i++)
        {
            float p = values[i];
            float g = decay ? Mad.Fma(p, wd, gradients[i]) : gradients[i];
            float s = Mad.Fma(oneMinusAlpha * g, g, square[i] * alpha);
            square[i] = s;
            float a;
            if (Centered)
            {
                float gm = Mad.Fma(g, oneMinusAlpha, mean[i] * alpha);
                mean[i] = gm;
                a = MathF.Sqrt(Mad.Fma(-gm, gm, s));
            }
            else
            {
                a = MathF.Sqrt(s);
            }

            a += epsilon;
            if (Momentum > 0)
            {
                float b = (buffer[i] * momentum) + (g / a);
                buffer[i] = b;
                values[i] = Mad.Fma(b, negLr, p);
            }
            else
            {
                values[i] = p + ((negLr * g) / a);
            }
        }
    }
}
