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
public sealed class Adam : AdaptiveMomentOptimizer
{
    /// <summary>Creates the optimiser; the defaults are PyTorch's.</summary>
    /// <param name="learningRate">lr ≥ 0.</param>
    /// <param name="beta1">β₁ in [0, 1): decay of the first moment.</param>
    /// <param name="beta2">β₂ in [0, 1): decay of the second moment.</param>
    /// <param name="epsilon">ε ≥ 0, added to the denominator.</param>
    /// <param name="weightDecay">L2 penalty ≥ 0, added to the gradient.</param>
    /// <param name="amsgrad">Normalise by the running maximum of the second moment (Reddi et al., 2018).</param>
    /// <exception cref="ArgumentOutOfRangeException">A hyperparameter is out of its range, NaN or infinite.</exception>
    public Adam(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0, bool amsgrad = false)
        : base(learningRate, beta1, beta2, epsilon, weightDecay, amsgrad)
    {
    }

    private protected override void Update(int offset, Span<float> values, ReadOnlySpan<float> gradients, double weightDecay) =>
        UpdateMoments(offset, values, gradients, l2: (float)weightDecay, shrink: 1f);
}
