using System.Text.Json.Serialization;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Training;

/// <summary>
/// Regularisation of a recurrent stack by dropout, applied by training forward passes only (inference ignores it):
/// every kept value is scaled by 1/(1 − p) during training (inverted dropout), so a trained network is used as it
/// is. All rates are in [0, 1); 0 turns a kind off, and with every rate 0 training computes exactly the bits it
/// computes without these options.
/// </summary>
/// <remarks>
/// <para>The masks are drawn from a counter-based generator keyed by (<see cref="Seed"/>, the network's
/// <see cref="TrainableRecurrentNetwork.DropoutStep"/>, the kind, the layer, the position), not from a sequential
/// stream: they have the same bits for every vector width and thread count, and a resumed run that restores the step
/// draws the masks the uninterrupted run drew.</para>
/// <para>What each rate drops: <see cref="Dropout"/> every element of each layer's output except the last layer's,
/// before the next layer reads it (PyTorch's <c>nn.LSTM(dropout=p)</c>); <see cref="OutputDropout"/> every element of
/// the last layer's output, before the head; <see cref="WeightDrop"/> elements of every recurrent matrix W_hh, one mask
/// per forward pass (DropConnect, Merity et al. 2017, "Regularizing and optimizing LSTM language models");
/// <see cref="EmbeddingDropout"/> whole rows of a model's token embedding, one mask per forward pass (a dropped token is
/// zeros wherever it occurs; Gal and Ghahramani 2016); <see cref="InputDropout"/> features of every layer's input, one
/// mask per sequence and layer reused at every time step (variational dropout); <see cref="RecurrentDropout"/> features of
/// h_{t−1} in the recurrent products, one mask per sequence, layer and direction reused at every time step.</para>
/// </remarks>
public sealed record DropoutOptions
{
    /// <summary>Between stacked layers: the rate at which elements of every layer's output but the last are zeroed.</summary>
    public float Dropout { get; init; }

    /// <summary>The rate at which elements of the stack's output (the last layer's) are zeroed before the head.</summary>
    public float OutputDropout { get; init; }

    /// <summary>The rate at which elements of every W_hh are zeroed for a forward pass (DropConnect).</summary>
    public float WeightDrop { get; init; }

    /// <summary>The rate at which whole rows of the token embedding are zeroed for a forward pass (models with token input).</summary>
    public float EmbeddingDropout { get; init; }

    /// <summary>
    /// Variational input dropout (Gal and Ghahramani 2016; Keras's <c>dropout</c>): the rate at which features of every
    /// layer's input are zeroed, with one mask per sequence (batch row) and layer, the same at every time step.
    /// </summary>
    public float InputDropout { get; init; }

    /// <summary>
    /// Recurrent (variational) dropout (Gal and Ghahramani 2016; Keras's <c>recurrent_dropout</c>): the rate at which
    /// features of h_{t−1} are zeroed where it enters the recurrent products, with one mask per sequence (batch row),
    /// layer and direction, the same at every time step. The state itself (the layer's output, the carried state, GRU's
    /// z ⊙ h_{t−1}, LSTM's cell) is not masked.
    /// </summary>
    public float RecurrentDropout { get; init; }

    /// <summary>The key of every mask; two runs with the same seed and steps draw the same masks.</summary>
    public ulong Seed { get; init; }

    /// <summary>Whether any rate is above 0.</summary>
    [JsonIgnore]
    public bool IsActive => Dropout > 0 || OutputDropout > 0 || WeightDrop > 0 || EmbeddingDropout > 0 || InputDropout > 0 || RecurrentDropout > 0;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first rate outside [0, 1).</summary>
    /// <param name="paramName">The parameter the options came in.</param>
    public void Validate(string paramName)
    {
        Check(Dropout, nameof(Dropout), paramName);
        Check(OutputDropout, nameof(OutputDropout), paramName);
        Check(WeightDrop, nameof(WeightDrop), paramName);
        Check(EmbeddingDropout, nameof(EmbeddingDropout), paramName);
        Check(InputDropout, nameof(InputDropout), paramName);
        Check(RecurrentDropout, nameof(RecurrentDropout), paramName);
    }

    private static void Check(float rate, string name, string paramName)
    {
        if (!(rate >= 0 && rate < 1))
        {
            ThrowHelper.ArgumentOutOfRange(paramName, $"{name} must be in [0, 1), was {rate}.");
        }
    }
}
