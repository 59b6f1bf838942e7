using Rnn.Simd.Kernels.Activations;

namespace Rnn.Simd.Cells;

/// <summary>The hidden nonlinearity f of an Elman cell.</summary>
public enum Nonlinearity
{
    /// <summary>tanh (PyTorch's <c>nonlinearity='tanh'</c>).</summary>
    Tanh,

    /// <summary>max(0, x) (PyTorch's <c>nonlinearity='relu'</c>).</summary>
    Relu,

    /// <summary>The logistic sigmoid 1 / (1 + e^−x).</summary>
    Sigmoid,

    /// <summary>f(x) = x: a linear recurrence.</summary>
    Identity,
}

/// <summary>Maps the public nonlinearity options onto the kernels' activations.</summary>
internal static class ActivationKinds
{
    /// <summary>The kernel activation computing <paramref name="nonlinearity"/>.</summary>
    public static ActivationKind ToActivationKind(this Nonlinearity nonlinearity) => nonlinearity switch
    {
        Nonlinearity.Relu => ActivationKind.Relu,
        Nonlinearity.Sigmoid => ActivationKind.Sigmoid,
        Nonlinearity.Identity => ActivationKind.Identity,
        _ => ActivationKind.Tanh,
    };
}
