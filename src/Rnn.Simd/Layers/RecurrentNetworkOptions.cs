using System.Text.Json.Serialization;
using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Parameters;

namespace Rnn.Simd.Layers;

/// <summary>How the two directions of a bidirectional layer are combined.</summary>
public enum DirectionMerge
{
    /// <summary>[forward | reverse] along the feature axis, as PyTorch does (2·Hout features).</summary>
    Concatenate,

    /// <summary>forward + reverse (Hout features).</summary>
    Sum,
}

/// <summary>The architecture of a <see cref="RecurrentNetwork"/>: sizes, cell, stacking and directions.</summary>
public sealed record RecurrentNetworkOptions
{
    /// <summary>The cell of every layer.</summary>
    public CellType Cell { get; init; } = CellType.Lstm;

    /// <summary>Features per time step of the input (X).</summary>
    public int InputSize { get; init; }

    /// <summary>Hidden size H (the cell state size for LSTM).</summary>
    public int HiddenSize { get; init; }

    /// <summary>LSTM only: when positive, h_t = W_hr (o ⊙ tanh c_t) has this size (PyTorch's proj_size); 0 = none.</summary>
    public int ProjectionSize { get; init; }

    /// <summary>Stacked layers (≥ 1); layer l &gt; 0 reads the outputs of layer l − 1.</summary>
    public int Layers { get; init; } = 1;

    /// <summary>Whether every layer also runs backwards over time.</summary>
    public bool Bidirectional { get; init; }

    /// <summary>
    /// A unidirectional network that runs backwards over time, from each sequence's last step down to t = 0 (ONNX's
    /// <c>direction = reverse</c>); its parameters are the forward direction's (no <c>_reverse</c> suffix). Whole
    /// sequences only: it does not stream, and truncated BPTT refuses it. Not written to JSON when false.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Reverse { get; init; }

    /// <summary>How a bidirectional layer merges its directions.</summary>
    public DirectionMerge Merge { get; init; } = DirectionMerge.Concatenate;

    /// <summary>Elman cells only: the hidden nonlinearity.</summary>
    public Nonlinearity Nonlinearity { get; init; } = Nonlinearity.Tanh;

    /// <summary>GRU only: where the reset gate applies. There is no default guess: PyTorch models use <see cref="GruVariant.ResetAfter"/>.</summary>
    public GruVariant GruVariant { get; init; } = GruVariant.ResetAfter;

    /// <summary>
    /// The cell's activations, ONNX's <c>activations</c>: per direction (forward first) f, g, h for LSTM (gates,
    /// candidate, output), f, g for GRU, f for Elman; null for the defaults (σ, tanh, tanh; σ, tanh;
    /// <see cref="Nonlinearity"/>). Inference only. Not written to JSON when null.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<CellActivation>? Activations { get; init; }

    /// <summary>Bounds the input of every gate activation to [−CellClip, CellClip] (ONNX's <c>clip</c>); 0 = none. Inference only.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public float CellClip { get; init; }

    /// <summary>LSTM: the forget gate is 1 − i (ONNX's <c>input_forget</c>). Inference only.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool CoupledInputForget { get; init; }

    /// <summary>
    /// LSTM: peephole connections, i and f see p ⊙ c_{t−1}, o sees p ⊙ c_t; the weights are the tensor
    /// <c>weight_peephole_l{k}</c> [3H] (p_i, p_f, p_o). Inference only.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Peepholes { get; init; }

    /// <summary>Whether an ONNX extra (activations, clip, coupled gates, peepholes) is set: those run on the general element-wise path.</summary>
    internal bool IsExtended => Activations is not null || CellClip != 0 || CoupledInputForget || Peepholes;

    /// <summary>Activations per direction: 3 (LSTM), 2 (GRU), 1 (Elman).</summary>
    internal int ActivationCount => Cell switch { CellType.Lstm => 3, CellType.Gru => 2, _ => 1 };

    /// <summary>Activation <paramref name="index"/> of direction <paramref name="direction"/> (the default when none are set).</summary>
    internal CellActivation Activation(int direction, int index) =>
        Activations is { } a ? a[(direction * ActivationCount) + index]
        : Cell == CellType.Rnn ? CellActivation.Of(Nonlinearity == Nonlinearity.Relu ? ActivationFunction.Relu : ActivationFunction.Tanh)
        : CellActivation.Of(index == 0 ? ActivationFunction.Sigmoid : ActivationFunction.Tanh);

    /// <summary>Size of h_t: <see cref="ProjectionSize"/> when set, else <see cref="HiddenSize"/>.</summary>
    public int OutputSize => ProjectionSize > 0 ? ProjectionSize : HiddenSize;

    /// <summary>1, or 2 when <see cref="Bidirectional"/>.</summary>
    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>Features per step of a layer's output: D·Hout when concatenating, Hout when summing.</summary>
    public int LayerOutputSize => Bidirectional && Merge == DirectionMerge.Concatenate ? 2 * OutputSize : OutputSize;

    /// <summary>D·Hout without the int overflow a huge, not yet validated size could cause.</summary>
    private long LayerOutputSizeUnchecked => Bidirectional && Merge == DirectionMerge.Concatenate ? 2L * OutputSize : OutputSize;

    /// <summary>Gate blocks per layer, the rows of W_ih in units of H: 1 (Elman), 3 (GRU), 4 (LSTM).</summary>
    /// <remarks>Not written to JSON: it follows from <see cref="Cell"/> (and documents written before it was public stay byte-identical).</remarks>
    [JsonIgnore]
    public int Gates => Cell switch { CellType.Lstm => 4, CellType.Gru => 3, _ => 1 };

    /// <summary>
    /// The parameters of this architecture under PyTorch's names and shapes, in PyTorch's state-dict order:
    /// per layer and direction <c>weight_ih</c>, <c>weight_hh</c>, <c>bias_ih</c>, <c>bias_hh</c> (when
    /// <paramref name="bias"/>) and <c>weight_hr</c> (projection), suffixed <c>_l{k}</c> and <c>_reverse</c>.
    /// </summary>
    public IReadOnlyList<ParameterSpec> ParameterSpecs(string prefix = "", bool bias = true)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        Validate("this");
        int g = Gates, h = HiddenSize, hOut = OutputSize;
        var specs = new List<ParameterSpec>();
        for (int layer = 0; layer < Layers; layer++)
        {
            int inputSize = layer == 0 ? InputSize : LayerOutputSize;
            for (int dir = 0; dir < Directions; dir++)
            {
                string suffix = $"_l{layer}{(dir == 1 ? "_reverse" : "")}";
                specs.Add(new(prefix + "weight_ih" + suffix, [g * h, inputSize], ParameterRole.InputWeight, g, Cell));
                specs.Add(new(prefix + "weight_hh" + suffix, [g * h, hOut], ParameterRole.RecurrentWeight, g, Cell));
                if (bias)
                {
                    specs.Add(new(prefix + "bias_ih" + suffix, [g * h], ParameterRole.InputBias, g, Cell));
                    specs.Add(new(prefix + "bias_hh" + suffix, [g * h], ParameterRole.RecurrentBias, g, Cell));
                }

                if (ProjectionSize > 0)
                {
                    specs.Add(new(prefix + "weight_hr" + suffix, [hOut, h], ParameterRole.ProjectionWeight, 1, Cell));
                }

                if (Peepholes)
                {
                    specs.Add(new(prefix + "weight_peephole" + suffix, [3 * h], ParameterRole.PeepholeWeight, 3, Cell));
                }
            }
        }

        return specs;
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid option.</summary>
    internal void Validate(string paramName)
    {
        if (!Enum.IsDefined(Cell))
        {
            ThrowHelper.Argument(paramName, $"Cell {Cell} is not a cell type.");
        }

        if (InputSize < 1 || HiddenSize < 1)
        {
            ThrowHelper.Argument(paramName, $"InputSize and HiddenSize must be at least 1 (were {InputSize} and {HiddenSize}).");
        }

        if (IsExtended)
        {
            if ((Peepholes || CoupledInputForget) && Cell != CellType.Lstm)
            {
                ThrowHelper.Argument(paramName, "Peepholes and CoupledInputForget are LSTM options.");
            }

            if (ProjectionSize > 0)
            {
                ThrowHelper.Argument(paramName, "A projected LSTM takes no activations, clip, coupled gates or peepholes.");
            }

            if (!float.IsFinite(CellClip) || CellClip < 0)
            {
                ThrowHelper.Argument(paramName, $"CellClip must be finite and ≥ 0 (0 = none), was {CellClip}.");
            }

            if (Activations is { } list && (list.Count != ActivationCount * Directions || list.Any(a => a is null || !Enum.IsDefined(a.Function) || !float.IsFinite(a.Alpha) || !float.IsFinite(a.Beta))))
            {
                ThrowHelper.Argument(paramName, $"Activations must hold {ActivationCount} per direction ({ActivationCount * Directions}), each a defined function with finite α and β.");
            }
        }

        if (Reverse && Bidirectional)
        {
            ThrowHelper.Argument(paramName, "Reverse is for a unidirectional network; a bidirectional one already runs both ways.");
        }

        if (Layers < 1)
        {
            ThrowHelper.Argument(paramName, $"Layers must be at least 1, was {Layers}.");
        }

        if (ProjectionSize < 0 || (ProjectionSize > 0 && Cell != CellType.Lstm) || ProjectionSize >= HiddenSize && ProjectionSize > 0)
        {
            ThrowHelper.Argument(paramName, $"ProjectionSize {ProjectionSize} is invalid: LSTM only, and 0 < ProjectionSize < HiddenSize ({HiddenSize}).");
        }

        if (!Enum.IsDefined(Nonlinearity) || !Enum.IsDefined(GruVariant) || !Enum.IsDefined(Merge))
        {
            ThrowHelper.Argument(paramName, "Nonlinearity, GruVariant or Merge is out of range.");
        }

        // In long: every factor is below 2³¹, so no product of two overflows; the largest layer input is X or D·Hout.
        long widestInput = Math.Max(InputSize, Layers > 1 ? (long)LayerOutputSizeUnchecked : 0);
        long fused = (long)Gates * HiddenSize * (widestInput + OutputSize);
        if (fused > int.MaxValue / 2 || (long)Layers * Directions * HiddenSize > int.MaxValue / 2)
        {
            ThrowHelper.Argument(paramName, $"The layer is too large: its fused weight matrix G·H·(X + Hout) would hold {fused} values (G={Gates}, H={HiddenSize}, X={widestInput}, Hout={OutputSize}); at most {int.MaxValue / 2}.");
        }
    }
}
