using Rnn.Simd.Parameters;

namespace Rnn.Simd.Training;

/// <summary>How <see cref="Initializers"/> fills a weight matrix. Gate-stacked matrices are filled one gate block at a time.</summary>
public enum WeightInitialization
{
    /// <summary>
    /// PyTorch's default: U(−1/√H, 1/√H) for recurrent modules (H the hidden size), U(−1/√in, 1/√in) for dense
    /// layers (<c>nn.Linear</c>'s kaiming_uniform with a = √5).
    /// </summary>
    PyTorchDefault,

    /// <summary>
    /// Glorot and Bengio (2010), uniform: U(−b, b), b = gain · √(6 / (fan_in + fan_out)), with fan_in = columns and
    /// fan_out = rows of one gate block (each gate is its own linear map; PyTorch's <c>xavier_uniform_</c> on a whole
    /// fused LSTM matrix would count all 4H rows).
    /// </summary>
    XavierUniform,

    /// <summary>Glorot and Bengio (2010), normal: N(0, σ²), σ = gain · √(2 / (fan_in + fan_out)), fans per gate block as <see cref="XavierUniform"/>.</summary>
    XavierNormal,

    /// <summary>
    /// Saxe et al. (2014): each gate block a (gain-scaled) random orthogonal matrix, Haar-distributed: the Q of
    /// the QR factorisation of a standard normal matrix, with R's diagonal made positive. A block with more rows
    /// than columns gets orthonormal columns (WᵀW = I), otherwise orthonormal rows.
    /// </summary>
    Orthogonal,

    /// <summary>Le, Jaitly and Hinton (2015), for ReLU recurrences: each gate block scale · I (ones on the main diagonal of a rectangular block).</summary>
    Identity,
}

/// <summary>How <see cref="Initializers"/> fills bias vectors.</summary>
public enum BiasInitialization
{
    /// <summary>PyTorch's default: U(−1/√H, 1/√H) for recurrent biases, U(−1/√in, 1/√in) for a dense layer's.</summary>
    PyTorchDefault,

    /// <summary>All zeros.</summary>
    Zero,
}

/// <summary>
/// What <see cref="Initializers.Apply"/> does with each role of a <see cref="ParameterSet"/>. The default is PyTorch's
/// own initialisation of <c>nn.RNN/LSTM/GRU</c> and <c>nn.Linear</c>; the presets are the usual alternatives.
/// </summary>
public sealed record RecurrentInitialization
{
    /// <summary>PyTorch's defaults for every role.</summary>
    public static RecurrentInitialization PyTorch { get; } = new();

    /// <summary>Xavier-uniform input weights, orthogonal recurrent weights, zero biases, and an LSTM forget-gate bias of 1.</summary>
    public static RecurrentInitialization Orthogonal { get; } = new()
    {
        InputWeights = WeightInitialization.XavierUniform,
        RecurrentWeights = WeightInitialization.Orthogonal,
        Biases = BiasInitialization.Zero,
        LstmForgetGateBias = 1.0,
    };

    /// <summary>
    /// Le et al.'s IRNN for ReLU Elman networks: recurrent weights <paramref name="scale"/> · I, zero biases; input
    /// weights keep PyTorch's default.
    /// </summary>
    public static RecurrentInitialization IdentityRelu(double scale = 1.0) => new()
    {
        RecurrentWeights = WeightInitialization.Identity,
        IdentityScale = scale,
        Biases = BiasInitialization.Zero,
    };

    /// <summary>Input-to-gates weights (<see cref="ParameterRole.InputWeight"/>).</summary>
    public WeightInitialization InputWeights { get; init; }

    /// <summary>Recurrent weights (<see cref="ParameterRole.RecurrentWeight"/>).</summary>
    public WeightInitialization RecurrentWeights { get; init; }

    /// <summary>LSTM projection weights (<see cref="ParameterRole.ProjectionWeight"/>, one block).</summary>
    public WeightInitialization ProjectionWeights { get; init; }

    /// <summary>Dense layer weights (<see cref="ParameterRole.DenseWeight"/>, one block).</summary>
    public WeightInitialization DenseWeights { get; init; }

    /// <summary>Every bias (recurrent and dense).</summary>
    public BiasInitialization Biases { get; init; }

    /// <summary>The gain of <see cref="WeightInitialization.XavierUniform"/>, <see cref="WeightInitialization.XavierNormal"/> and <see cref="WeightInitialization.Orthogonal"/>; positive and finite.</summary>
    public double Gain { get; init; } = 1.0;

    /// <summary>The diagonal value of <see cref="WeightInitialization.Identity"/>; finite.</summary>
    public double IdentityScale { get; init; } = 1.0;

    /// <summary>
    /// When set, LSTM layers start with this forget-gate bias (Gers et al., 2000; Jozefowicz et al., 2015 use 1):
    /// the f block (PyTorch gate order i, f, g, o: rows H … 2H−1) of <c>bias_ih</c> gets the value and that of
    /// <c>bias_hh</c> gets 0, so their sum is the value. Null leaves the biases as <see cref="Biases"/> made them.
    /// </summary>
    public double? LstmForgetGateBias { get; init; }
}
