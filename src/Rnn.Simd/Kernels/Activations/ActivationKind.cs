namespace Rnn.Simd.Kernels.Activations;

/// <summary>The element-wise activation functions of the cells and heads.</summary>
internal enum ActivationKind
{
    /// <summary>f(x) = x.</summary>
    Identity = 0,

    /// <summary>f(x) = σ(x) = 1/(1 + e^−x).</summary>
    Sigmoid = 1,

    /// <summary>f(x) = tanh(x).</summary>
    Tanh = 2,

    /// <summary>f(x) = max(x, 0).</summary>
    Relu = 3,
}
