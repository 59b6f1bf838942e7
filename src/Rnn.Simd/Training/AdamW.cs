namespace Rnn.Simd.Training;

/// <summary>Adam with decoupled weight decay (Loshchilov and Hutter, 2019; PyTorch's <c>torch.optim.AdamW</c>).</summary>
/// <remarks>
/// As <see cref="Adam"/> without the L2 term, after shrinking the values, as PyTorch 1.13's <c>_single_tensor_adamw</c>:
/// <c>p = p · (1 − lr · weight_decay)</c> with the factor computed in double and rounded to float, then the Adam update
/// with the shrunk p. The default weight decay is PyTorch's 0.01.
/// </remarks>
public sealed class AdamW : Optimizer
{
    private readonly AdamMoments _moments;

    /// <summary>Creates the optimiser; the defaults are PyTorch's.</summary>
    /// <param name="learningRate">lr ≥ 0.</param>
    /// <param name="beta1">β₁ in [0, 1): decay of the first moment.</param>
    /// <param name="beta2">β₂ in [0, 1): decay of the second moment.</param>
    /// <param name="epsilon">ε ≥ 0, added to the denominator.</param>
    /// <param name="weightDecay">Decoupled weight decay ≥ 0: each step multiplies the values by 1 − lr · weight_decay.</param>
    /// <param name="amsgrad">Normalise by the running maximum of the second moment.</param>
    /// <exception cref="ArgumentOutOfRangeException">A hyperparameter is out of its range, NaN or infinite.</exception>
    public AdamW(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 1e-2, bool amsgrad = false)
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
        _moments.Update(offset, values, gradients, l2: 0f, shrink: (float)(1 - (LearningRate * weightDecay)));
}
