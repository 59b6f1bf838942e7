using Rnn.Simd.Kernels.Activations;

namespace Rnn.Simd.Cells;

/// <summary>The functions a recurrent cell's gates may use (ONNX's RNN/LSTM/GRU <c>activations</c>).</summary>
public enum ActivationFunction
{
    /// <summary>σ(x) = 1/(1 + e^−x).</summary>
    Sigmoid,

    /// <summary>tanh(x).</summary>
    Tanh,

    /// <summary>max(x, 0).</summary>
    Relu,

    /// <summary>α·x + β.</summary>
    Affine,

    /// <summary>x for x ≥ 0, α·x below.</summary>
    LeakyRelu,

    /// <summary>x for x &gt; α, 0 otherwise.</summary>
    ThresholdedRelu,

    /// <summary>α·tanh(β·x).</summary>
    ScaledTanh,

    /// <summary>max(0, min(1, α·x + β)).</summary>
    HardSigmoid,

    /// <summary>x for x ≥ 0, α·(e^x − 1) below.</summary>
    Elu,

    /// <summary>x/(1 + |x|).</summary>
    Softsign,

    /// <summary>log(1 + e^x).</summary>
    Softplus,
}

/// <summary>
/// One activation of a cell with its parameters (α, β; unused ones ignored). <see cref="Of"/> gives ONNX's defaults.
/// Evaluated one element at a time in a fixed order (sigmoid, tanh and exp are the engine's own), so the bits do
/// not depend on the vector width.
/// </summary>
/// <param name="Function">The function.</param>
/// <param name="Alpha">α.</param>
/// <param name="Beta">β.</param>
public sealed record CellActivation(ActivationFunction Function, float Alpha = 0f, float Beta = 0f)
{
    /// <summary>The function with ONNX's default α and β (LeakyRelu α 0.01; ThresholdedRelu α 1; ScaledTanh α 1,
    /// β 1; HardSigmoid α 0.2, β 0.5; Elu α 1; Affine α 1, β 0).</summary>
    public static CellActivation Of(ActivationFunction function) => function switch
    {
        ActivationFunction.LeakyRelu => new(function, 0.01f),
        ActivationFunction.ThresholdedRelu => new(function, 1f),
        ActivationFunction.ScaledTanh => new(function, 1f, 1f),
        ActivationFunction.HardSigmoid => new(function, 0.2f, 0.5f),
        ActivationFunction.Elu => new(function, 1f),
        ActivationFunction.Affine => new(function, 1f, 0f),
        _ => new(function),
    };

    internal float Apply(float x) => Function switch
    {
        ActivationFunction.Sigmoid => SigmoidOperator.Invoke(x),
        ActivationFunction.Tanh => TanhOperator.Invoke(x),
        ActivationFunction.Relu => MathF.Max(x, 0f),
        ActivationFunction.Affine => (Alpha * x) + Beta,
        ActivationFunction.LeakyRelu => x >= 0f ? x : Alpha * x,
        ActivationFunction.ThresholdedRelu => x > Alpha ? x : 0f,
        ActivationFunction.ScaledTanh => Alpha * TanhOperator.Invoke(Beta * x),
        ActivationFunction.HardSigmoid => MathF.Max(0f, MathF.Min(1f, (Alpha * x) + Beta)),
        ActivationFunction.Elu => x >= 0f ? x : Alpha * (ExpOperator.Invoke(x) - 1f),
        ActivationFunction.Softsign => x / (1f + MathF.Abs(x)),
        _ => x > 20f ? x : MathF.Log(1f + ExpOperator.Invoke(x)),
    };
}
