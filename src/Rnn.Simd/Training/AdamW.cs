namespace Rnn.Simd.Training;

/// <summary>Adam with decoupled weight decay (Loshchilov and Hutter, 2019; PyTorch's <c>torch.optim.AdamW</c>).</summary>
/// <remarks>
/// As <see cref="Adam"/> without the L2 term, after shrinking the values, as PyTorch 1.13's <c>_single_tensor_adamw</c>:
/// <c>p = p · (1 − lr · weight_decay)</c> with the factor computed in double and rounded to float, then the Adam update
/// with the shrunk p. The default weight decay is PyTorch's 0.01.
/// </remarks>
public sealed class AdamW : AdaptiveMomentOptimizer
{
    /// <summary>Creates the optimiser; the defaults are PyTorch's.</summary>
    /// <param name="learningRate">lr ≥ 0.</param>
    /// <param name="beta1">β₁ in [0, 1): decay of the first moment.</param>
    /// <param name="beta2">β₂ in [0, 1): decay of the second moment.</param>
    /// <param name="epsilon">ε ≥ 0, added to the denominator.</param>
    /// <param name="weightDecay">Decoupled weight decay ≥ 0: each step multiplies the values by 1 − lr · weight_decay.</param>
    /// <param name="amsgrad">Normalise by the running maximum of the second moment.</param>
    /// <exception cref="ArgumentOutOfRangeException">A hyperparameter is out of its range, NaN or infinite.</exception>
    public AdamW(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 1e-2, bool amsgrad = false)
        : base(learningRate, beta1, beta2, epsilon, weightDecay, amsgrad)
    {
    }

    private protected override void Update(int offset, Span<float> values, ReadOnlySpan<float> gradients, double weightDecay) =>
        UpdateMoments(offset, values, gradients, l2: 0f, shrink: (float)(1 - (LearningRate * weightDecay)));
}
