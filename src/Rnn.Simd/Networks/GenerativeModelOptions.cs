using System.Text.Json.Serialization;
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
    internal override long DeclaredLayers => Recurrent?.Layers ?? 0;

    private protected GenerativeModelOptions()
    {
    }

    /// <summary>
    /// The recurrent stack: cell, hidden size, layers, projection, nonlinearity, GRU variant. Its
    /// <see cref="RecurrentNetworkOptions.InputSize"/> may be left 0 (it is the step features); it must be
    /// unidirectional.
    /// </summary>
    public required RecurrentNetworkOptions Recurrent { get; init; }

    /// <inheritdoc/>
    [JsonIgnore]
    public override RecurrentNetworkOptions Stack => Recurrent is null || Recurrent.InputSize == StepFeatures ? Recurrent! : Recurrent with { InputSize = StepFeatures };

    /// <summary>Validates <see cref="Recurrent"/> for a stack reading <see cref="SequenceModelOptions.StepFeatures"/>, naming the option at fault.</summary>
    private protected void ValidateStack()
    {
        if (Recurrent is null)
        {
            ThrowHelper.Argument(nameof(Recurrent), "The recurrent stack's options are missing.");
        }

        if (Recurrent.InputSize != 0 && Recurrent.InputSize != StepFeatures)
        {
            ThrowHelper.Argument(nameof(Recurrent), $"Recurrent.InputSize {Recurrent.InputSize} must be 0 or the step features {StepFeatures}.");
        }

        if (Recurrent.Bidirectional || Recurrent.Reverse)
        {
            ThrowHelper.Argument(nameof(Recurrent), $"A generative model runs forward in time, one step at a time: its stack cannot be {(Recurrent.Reverse ? "reverse" : "bidirectional")}.");
        }

        Stack.Validate(nameof(Recurrent));
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
