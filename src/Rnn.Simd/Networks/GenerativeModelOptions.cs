using System.Text.Json.Serialization;
using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Networks;

/// <summary>
/// The recurrent stack shared by the generative patterns (<see cref="LanguageModelOptions"/>,
/// <see cref="EncoderDecoderOptions"/>, <see cref="ForecasterOptions"/>): one unidirectional stack (or, for the
/// encoder-decoder, two of the same shape), whose output is fed back as the next input when generating.
/// </summary>
/// <remarks>Unidirectional by construction: generation runs forward in time, one step at a time.</remarks>
public abstract record GenerativeModelOptions : SequenceModelOptions
{
    /// <inheritdoc/>
    [JsonIgnore]
    internal override long DeclaredLayers => Layers;

    private protected GenerativeModelOptions()
    {
    }

    /// <summary>The cell of every layer.</summary>
    public CellType Cell { get; init; } = CellType.Lstm;

    /// <summary>Hidden size H of every layer (the cell state size for LSTM).</summary>
    public required int HiddenSize { get; init; }

    /// <summary>Stacked layers (≥ 1).</summary>
    public int Layers { get; init; } = 1;

    /// <summary>LSTM only: the projection size P (0 &lt; P &lt; H), or 0 for none (PyTorch's proj_size).</summary>
    public int ProjectionSize { get; init; }

    /// <summary>Elman cells only: the hidden nonlinearity.</summary>
    public Nonlinearity Nonlinearity { get; init; } = Nonlinearity.Tanh;

    /// <summary>GRU only: where the reset gate applies.</summary>
    public GruVariant GruVariant { get; init; } = GruVariant.ResetAfter;

    /// <summary>The options of a stack with these settings reading <paramref name="inputSize"/> features per step.</summary>
    private protected RecurrentNetworkOptions Stack(int inputSize) => new()
    {
        Cell = Cell,
        InputSize = inputSize,
        HiddenSize = HiddenSize,
        Layers = Layers,
        ProjectionSize = ProjectionSize,
        Nonlinearity = Nonlinearity,
        GruVariant = GruVariant,
    };

    /// <summary>Validates the stack's settings for an input of <paramref name="inputSize"/> features, naming the option at fault.</summary>
    private protected void ValidateStack(int inputSize)
    {
        if (!Enum.IsDefined(Cell))
        {
            ThrowHelper.Argument(nameof(Cell), $"{Cell} is not a cell type.");
        }

        if (HiddenSize < 1)
        {
            ThrowHelper.Argument(nameof(HiddenSize), $"Must be at least 1, was {HiddenSize}.");
        }

        if (Layers < 1)
        {
            ThrowHelper.Argument(nameof(Layers), $"Must be at least 1, was {Layers}.");
        }

        if (ProjectionSize < 0 || (ProjectionSize > 0 && (Cell != CellType.Lstm || ProjectionSize >= HiddenSize)))
        {
            ThrowHelper.Argument(nameof(ProjectionSize), $"{ProjectionSize} is invalid: 0 for none, or LSTM only with 0 < ProjectionSize < HiddenSize ({HiddenSize}).");
        }

        if (!Enum.IsDefined(Nonlinearity))
        {
            ThrowHelper.Argument(nameof(Nonlinearity), $"{Nonlinearity} is not a nonlinearity.");
        }

        if (!Enum.IsDefined(GruVariant))
        {
            ThrowHelper.Argument(nameof(GruVariant), $"{GruVariant} is not a GRU variant.");
        }

        Stack(inputSize).Validate(nameof(HiddenSize));
    }

    /// <summary>Throws unless <paramref name="value"/> ≥ 1, naming <paramref name="name"/>.</summary>
    private protected static void RequirePositive(int value, string name)
    {
        if (value < 1)
        {
            ThrowHelper.Argument(name, $"Must be at least 1, was {value}.");
        }
    }
}
