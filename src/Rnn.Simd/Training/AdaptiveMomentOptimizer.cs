namespace Rnn.Simd.Training;

/// <summary>
/// What <see cref="Adam"/> and <see cref="AdamW"/> share: the hyperparameters, the first and second moments, the
/// AMSGrad maximum and the element update, all as PyTorch 1.13's <c>_single_tensor_adam(w)</c> rounds them. The two
/// differ only in how the weight decay enters.
/// </summary>
public abstract class AdaptiveMomentOptimizer : Optimizer
{
    private float[] _mean = [];        // exp_avg
    private float[] _square = [];      // exp_avg_sq
    private float[] _maxSquare = [];   // max_exp_avg_sqs (AMSGrad only)

    private float _beta1, _oneMinusBeta1, _beta2, _oneMinusBeta2, _epsilon, _correction2Sqrt, _negStepSize;

    private protected AdaptiveMomentOptimizer(double learningRate, double beta1, double beta2, double epsilon, double weightDecay, bool amsgrad)
        : base(learningRate, weightDecay)
    {
        ValidateUnitInterval(beta1, nameof(beta1));
        ValidateUnitInterval(beta2, nameof(beta2));
        ValidateNonNegative(epsilon, nameof(epsilon));
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        Amsgrad = amsgrad;
    }

    /// <summary>β₁, the decay of the first moment.</summary>
    public double Beta1 { get; }

    /// <summary>β₂, the decay of the second moment.</summary>
    public double Beta2 { get; }

    /// <summary>ε, added to the denominator.</summary>
    public double Epsilon { get; }

    /// <summary>Whether the AMSGrad variant (Reddi et al., 2018) is on: normalise by the running maximum of the second moment.</summary>
    public bool Amsgrad { get; }

    private protected override void AllocateState(int length)
    {
        _mean = new float[length];
        _square = new float[length];
        if (Amsgrad)
        {
            _maxSquare = new float[length];
        }
    }

    private protected override IEnumerable<(string Name, float[] Buffer)> StateBuffers()
    {
        yield return ("exp_avg", _mean);
        yield return ("exp_avg_sq", _square);
        if (Amsgrad)
        {
            yield return ("max_exp_avg_sq", _maxSquare);
        }
    }

    /// <summary>The step's scalars, in double as Python computes them, rounded to float where the kernels take them.</summary>
    private protected override void BeginStep(long step)
    {
        double correction1 = 1 - Math.Pow(Beta1, step);         // bias_correction1 = 1 - beta1 ** step
        double correction2 = 1 - Math.Pow(Beta2, step);         // bias_correction2 = 1 - beta2 ** step
        double stepSize = LearningRate / correction1;           // step_size = lr / bias_correction1
        _correction2Sqrt = (float)Math.Sqrt(correction2);       // math.sqrt(bias_correction2), a divisor scalar
        _negStepSize = (float)-stepSize;                        // addcdiv_ value=-step_size
        _beta1 = (float)Beta1;
        _oneMinusBeta1 = (float)(1 - Beta1);
        _beta2 = (float)Beta2;
        _oneMinusBeta2 = (float)(1 - Beta2);
        _epsilon = (float)Epsilon;
    }

    /// <summary>
    /// The Adam update of <paramref name="values"/> (starting at <paramref name="offset"/> of the set), with L2 weight
    /// decay <paramref name="l2"/> added to the gradient (Adam) and the values first multiplied by
    /// <paramref name="shrink"/> (AdamW's decoupled decay; exactly 1 for none).
    /// </summary>
    private protected void UpdateMoments(int offset, Span<float> values, ReadOnlySpan<float> gradients, float l2, float shrink)
    {
        Span<float> mean = _mean.AsSpan(offset, values.Length);
        Span<float> square = _square.AsSpan(offset, values.Length);
        Span<float> maxSquare = Amsgrad ? _maxSquare.AsSpan(offset, values.Length) : default;
        float beta1 = _beta1, oneMinusBeta1 = _oneMinusBeta1, beta2 = _beta2, oneMinusBeta2 = _oneMinusBeta2;
        float epsilon = _epsilon, correction2Sqrt = _correction2Sqrt, negStepSize = _negStepSize;
        for (int i = 0; i < values.Length; i++)
        {
            float p = values[i] * shrink;                                      // AdamW: param.mul_(1 - lr * wd)
            float g = l2 != 0 ? Mad.Fma(values[i], l2, gradients[i]) : gradients[i];   // grad.add(param, alpha=wd)
            float m = Mad.Fma(g, oneMinusBeta1, mean[i] * beta1);                    // exp_avg.mul_(b1).add_(g, alpha=1-b1)
            float v = Mad.Fma(oneMinusBeta2 * g, g, square[i] * beta2);              // exp_avg_sq.mul_(b2).addcmul_(g, g, value=1-b2)
            mean[i] = m;
            square[i] = v;
            if (Amsgrad)
            {
                v = MathF.Max(maxSquare[i], v);                                // torch.maximum (NaN propagates)
                maxSquare[i] = v;
            }

            float denominator = (MathF.Sqrt(v) / correction2Sqrt) + epsilon;   // (sqrt(v) / bc2_sqrt).add_(eps)
            values[i] = p + ((negStepSize * m) / denominator);                 // param.addcdiv_(m, denom, value=-step_size)
        }
    }
}
