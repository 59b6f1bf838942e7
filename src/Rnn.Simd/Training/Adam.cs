namespace Rnn.Simd.Training;

/// <summary>Adam (Kingma and Ba, 2015) with L2 weight decay added to the gradient and optional AMSGrad (PyTorch's <c>torch.optim.Adam</c>).</summary>
/// <remarks>
/// Per element, in float32, as PyTorch 1.13's <c>_single_tensor_adam</c> (fma = one rounding; t = <see cref="Optimizer.StepCount"/>;
/// bc1 = 1 − β₁ᵗ, bc2 = 1 − β₂ᵗ and step = lr / bc1 in double, then rounded to float):
/// <code>
///   g = weight_decay ≠ 0 ? fma(p, wd, g) : g
///   m = fma(g, 1 − β₁, m · β₁)
///   v = fma((1 − β₂) · g, g, v · β₂)
///   v̂ = amsgrad ? (vmax = max(vmax, v)) : v
///   p = p + (−step · m) / (√v̂ / √bc2 + ε)
/// </code>
/// For decoupled weight decay use <see cref="AdamW"/>.
/// </remarks>
public sealed class Adam : Optimizer
{
    private readonly AdamMoments _moments;

    /// <summary>Creates the optimiser; the defaults are PyTorch's.</summary>
    /// <param name="learningRate">lr ≥ 0.</param>
    /// <param name="beta1">β₁ in [0, 1): decay of the first moment.</param>
    /// <param name="beta2">β₂ in [0, 1): decay of the second moment.</param>
    /// <param name="epsilon">ε ≥ 0, added to the denominator.</param>
    /// <param name="weightDecay">L2 penalty ≥ 0, added to the gradient.</param>
    /// <param name="amsgrad">Normalise by the running maximum of the second moment (Reddi et al., 2018).</param>
    /// <exception cref="ArgumentOutOfRangeException">A hyperparameter is out of its range, NaN or infinite.</exception>
    public Adam(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0, bool amsgrad = false)
        : base(learningRate, weightDecay)
    {
        ValidateUnitInterval(beta1, nameof(beta1));
        ValidateUnitInterval(beta2, nameof(beta2));
        ValidateNonNegative(epsilon, nameof(epsilon));
        _moments = new AdamMoments(beta1, beta2, epsilon, amsgrad);
    }

    /// <summary>β₁, the decay of the first moment.</summary>
    public double Beta1 => _moments.Beta1;

    /// <summary>β₂, the decay of the second moment.</summary>
    public double Beta2 => _moments.Beta2;

    /// <summary>ε, added to the denominator.</summary>
    public double Epsilon => _moments.Epsilon;

    /// <summary>Whether the AMSGrad variant is on.</summary>
    public bool Amsgrad => _moments.Amsgrad;

    private protected override void AllocateState(int length) => _moments.Allocate(length);

    private protected override void BeginStep(long step) => _moments.Begin(step, LearningRate);

    private protected override void Update(int offset, Span<float> values, ReadOnlySpan<float> gradients, double weightDecay) =>
        _moments.Update(offset, values, gradients, l2: (float)weightDecay, shrink: 1f);
}
