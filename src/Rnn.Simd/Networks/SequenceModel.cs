using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Rnn.Simd.Internal;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>
/// The architecture of a <see cref="SequenceModel"/>: which usage pattern, its recurrent stack, its embedding and
/// head. Plain data: it round-trips through <see cref="ToJson"/> and <see cref="FromJson"/> (checkpoints store it so a
/// model can be rebuilt), and <see cref="CreateModel"/> builds a model with these options and fresh parameters.
/// </summary>
/// <remarks>The set of patterns is closed: each derived record is one of this library's models.</remarks>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(SequenceClassifierOptions), "classifier")]
[JsonDerivedType(typeof(SequenceTaggerOptions), "tagger")]
[JsonDerivedType(typeof(LanguageModelOptions), "language_model")]
[JsonDerivedType(typeof(EncoderDecoderOptions), "encoder_decoder")]
[JsonDerivedType(typeof(ForecasterOptions), "forecaster")]
public abstract record SequenceModelOptions
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = false,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        RespectRequiredConstructorParameters = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    private protected SequenceModelOptions()
    {
    }

    /// <summary>The options as one line of JSON, with the pattern in the field <c>kind</c>.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, s_json);

    /// <summary>Reads options written by <see cref="ToJson"/> and validates them.</summary>
    /// <exception cref="InvalidDataException">The text is not such JSON, names an unknown pattern, or describes an invalid model.</exception>
    public static SequenceModelOptions FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        SequenceModelOptions? options = null;
        try
        {
            options = JsonNode.Parse(json) is JsonObject root
                ? JsonSerializer.Deserialize<SequenceModelOptions>(UpgradeFlatStack(root), s_json)
                : JsonSerializer.Deserialize<SequenceModelOptions>(json, s_json);
        }
        catch (JsonException e)
        {
            ThrowHelper.InvalidData($"The model architecture is not valid: {e.Message}");
        }
        catch (NotSupportedException e)
        {
            ThrowHelper.InvalidData($"The model architecture is not valid: {e.Message}");
        }

        if (options is null)
        {
            ThrowHelper.InvalidData("The model architecture is empty (JSON null).");
        }

        try
        {
            options.Validate();
            options.Dropout?.Validate(nameof(Dropout));
        }
        catch (ArgumentException e)
        {
            ThrowHelper.InvalidData($"The model architecture is not valid: {e.Message}");
        }

        return options;
    }

    /// <summary>
    /// Release 0.1.0 wrote the generative models' stack flat (<c>cell</c>, <c>hidden_size</c>, <c>layers</c>, …
    /// beside <c>vocabulary_size</c>); since then every model nests it under <c>recurrent</c>. Moves the flat keys of
    /// such a document into a <c>recurrent</c> object; any other document is returned as it is.
    /// </summary>
    private static JsonObject UpgradeFlatStack(JsonObject root)
    {
        if (root.ContainsKey("recurrent") || !root.ContainsKey("hidden_size") ||
            root["kind"] is not JsonValue kind || !kind.TryGetValue(out string? name) ||
            name is not ("language_model" or "encoder_decoder" or "forecaster"))
        {
            return root;
        }

        var stack = new JsonObject();
        foreach (string key in (string[])["cell", "hidden_size", "layers", "projection_size", "nonlinearity", "gru_variant"])
        {
            if (root.Remove(key, out JsonNode? value))
            {
                stack[key] = value;
            }
        }

        root["recurrent"] = stack;
        return root;
    }

    /// <summary>
    /// Dropout of training (between layers, on the stack's output, on W_hh, on the token embedding), or null for none;
    /// inference ignores it. Not written to JSON when null.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DropoutOptions? Dropout { get; init; }

    /// <summary>The declarations of every parameter tensor of a model with these options, in the set's order.</summary>
    /// <exception cref="ArgumentException">The options are not valid.</exception>
    public abstract IReadOnlyList<ParameterSpec> ParameterSpecs();

    /// <summary>Features per time step that the recurrent stack reads (the embedding's size for token input).</summary>
    [JsonIgnore]
    public abstract int StepFeatures { get; }

    /// <summary>The recurrent stack's options as the network sees them: <c>Recurrent</c> with its input size set to <see cref="StepFeatures"/>.</summary>
    [JsonIgnore]
    public abstract RecurrentNetworkOptions Stack { get; }

    /// <summary>Builds a model with these options and a new <see cref="ParameterSet"/> (values zero: initialise or load them).</summary>
    /// <exception cref="ArgumentException">The options are not valid.</exception>
    public abstract SequenceModel CreateModel();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public abstract void Validate();

    /// <summary>The recurrent layers the options declare, each of which has at least two parameter tensors: a bound a
    /// checkpoint reader checks against the tensors really saved before it lists <see cref="ParameterSpecs"/>.</summary>
    [JsonIgnore]
    internal abstract long DeclaredLayers { get; }
}

/// <summary>
/// A network for one of the usage patterns of seeds 002 and 004 (many-to-one, many-to-many, one-to-many,
/// encoder-decoder): its recurrent part, embedding and heads bound to one <see cref="ParameterSet"/>, so one
/// optimiser trains the whole model and one checkpoint saves it.
/// </summary>
public abstract class SequenceModel
{
    private protected SequenceModel(SequenceModelOptions options, ParameterSet parameters)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(parameters);
        Options = options;
        Parameters = parameters;
    }

    /// <summary>The architecture.</summary>
    public SequenceModelOptions Options { get; }

    /// <summary>Every parameter of the model, under PyTorch's names with one prefix per module.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>
    /// A new parameter set for <paramref name="options"/>: zeros (to load weights into), or with <paramref name="seed"/>
    /// PyTorch's default initialisation (<see cref="Initializers.Apply"/> with <see cref="RecurrentInitialization.PyTorch"/>).
    /// </summary>
    private protected static ParameterSet CreateParameters(SequenceModelOptions options, ulong? seed)
    {
        ArgumentNullException.ThrowIfNull(options);
        var parameters = ParameterSet.Create(options.ParameterSpecs());
        if (seed is { } s)
        {
            Initializers.Apply(parameters, RecurrentInitialization.PyTorch, s);
        }

        return parameters;
    }
}
