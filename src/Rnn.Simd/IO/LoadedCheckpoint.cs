using System.Globalization;
using System.Text.Json;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.IO;

/// <summary>One parameter tensor as a checkpoint records it.</summary>
/// <param name="Name">Its name in the <see cref="ParameterSet"/> (PyTorch's, with the model's prefix).</param>
/// <param name="Shape">Its row-major shape.</param>
/// <param name="Role">Its role (weight decay exclusion chooses by it).</param>
public sealed record CheckpointParameter(string Name, IReadOnlyList<int> Shape, ParameterRole Role);

/// <summary>
/// A checkpoint read by <see cref="Checkpoint.Load"/>, checked and held in memory: restore it into freshly built
/// objects (<see cref="Restore"/>, <see cref="CreateOptimizer"/> or <see cref="CreateTrainer"/>,
/// <see cref="CreateGenerator"/>) and the run continues bit for bit as if it had never stopped.
/// </summary>
/// <remarks>
/// Everything was validated on load (checksum, format, version, shapes, finite parameters, complete optimiser state,
/// valid generator states, an architecture that declares exactly the saved tensors), so the members below fail only on a
/// mismatch with what the caller passes. Immutable.
/// <para>NaN and ±∞ policy: a checkpoint whose parameters, optimiser state or caller's tensors hold a value that is
/// not finite is refused on load as damaged (<see cref="InvalidDataException"/> naming the tensor and index), even when
/// its checksum is right: <see cref="Checkpoint.Save"/> never writes one, so such a file was not written by a healthy
/// run, and resuming from it could only spread NaN.</para>
/// </remarks>
public sealed class LoadedCheckpoint
{
    private readonly Dictionary<string, float[]> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, float[]> _optimizerState = new(StringComparer.Ordinal);   // "<state>/<name>"
    private readonly Dictionary<string, DeterministicRandomState> _generators = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CheckpointParameter> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, float[]> _int8Scales = new(StringComparer.Ordinal);   // parameter name → s per row
    private readonly IReadOnlyDictionary<string, string> _metadata;
    private readonly long _optimizerSteps;
    private readonly TrainerOptions? _trainerOptions;

    private LoadedCheckpoint(SafeTensorsFile file, string source)
    {
        Source = source;
        _metadata = file.Metadata;
        Step = Count(Checkpoint.StepKey);
        if (_metadata.TryGetValue(CheckpointPrecision.Key, out string? precision))
        {
            WeightPrecision = CheckpointPrecision.TryParse(precision, out WeightPrecision p)
                ? p
                : throw Invalid($"metadata '{CheckpointPrecision.Key}' is '{precision}', not bfloat16, int8 or float32");
        }

        var consumed = new HashSet<string>(StringComparer.Ordinal);
        Parameters = ReadParameters(file, consumed);
        if (_metadata.TryGetValue(Checkpoint.ArchitectureKey, out string? architecture))
        {
            try
            {
                Architecture = SequenceModelOptions.FromJson(architecture);
            }
            catch (InvalidDataException e)
            {
                throw Invalid(e.Message.TrimEnd('.'));
            }

            CheckArchitecture(Architecture);
        }

        var user = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, string> pair in _metadata)
        {
            if (pair.Key.StartsWith(Checkpoint.UserPrefix, StringComparison.Ordinal))
            {
                user.Add(pair.Key[Checkpoint.UserPrefix.Length..], pair.Value);
            }
        }

        Metadata = user.AsReadOnly();

        if (_metadata.TryGetValue(CheckpointOptimizers.KindKey, out string? kind))
        {
            if (WeightPrecision != WeightPrecision.Float32)
            {
                throw Invalid($"a {CheckpointPrecision.Name(WeightPrecision)} checkpoint has no float32 master weights to resume an optimiser on, yet it has optimiser metadata");
            }

            OptimizerKind = kind;
            _optimizerSteps = Count(CheckpointOptimizers.StepCountKey);
            ReadOptimizerState(file, consumed);
        }

        if (_metadata.ContainsKey(Checkpoint.AppliedKey))
        {
            if (OptimizerKind is null)
            {
                throw Invalid("it has trainer counters but no optimiser");
            }

            UpdatesApplied = Count(Checkpoint.AppliedKey);
            UpdatesSkipped = Count(Checkpoint.SkippedKey);
            string policy = CheckpointOptimizers.Value(_metadata, Checkpoint.NonFiniteKey, Invalid);
            _trainerOptions = new TrainerOptions
            {
                OnNonFiniteGradient = Enum.TryParse(policy, out NonFiniteGradientPolicy p) && Enum.IsDefined(p) && !int.TryParse(policy, out _)
                    ? p
                    : throw Invalid($"metadata '{Checkpoint.NonFiniteKey}' is '{policy}', not a policy"),
                MaxGradientNorm = OptionalNumber(Checkpoint.MaxNormKey),
                ClipValue = OptionalNumber(Checkpoint.ClipValueKey) is { } clip ? (float)clip : null,
            };
        }

        ReadGenerators(file, consumed);
        Tensors = ReadUserTensors(file, consumed);
        foreach (SafeTensorsEntry entry in file.Tensors)
        {
            if (!consumed.Contains(entry.Name))
            {
                throw Invalid($"unexpected tensor '{entry.Name}'");
            }
        }

        // Build the optimiser and trainer once on a scratch set, so that every inconsistency shows now, not later.
        if (OptimizerKind is not null)
        {
            ParameterSet scratch = ParameterSet.Create(Parameters.Select(p => new ParameterSpec(p.Name, [.. p.Shape], p.Role)));
            Optimizer optimizer = BuildOptimizer(scratch);
            if (_trainerOptions is not null)
            {
                try
                {
                    _ = new Trainer(scratch, optimizer, _trainerOptions);
                }
                catch (ArgumentException e)
                {
                    throw Invalid($"the trainer's options are out of range: {e.Message}");
                }
            }
        }
    }

    /// <summary>Where the checkpoint was read from (the path given to <see cref="Checkpoint.Load"/>).</summary>
    public string Source { get; }

    /// <summary>
    /// The precision of the saved recurrent weight matrices (<see cref="CheckpointContent.WeightPrecision"/>): float32
    /// for a training checkpoint (and every checkpoint written before precisions were recorded), or the reduced precision
    /// of an inference snapshot, which <see cref="CreateInferenceModel"/> and <see cref="CreateInferenceNetwork"/> keep.
    /// </summary>
    public WeightPrecision WeightPrecision { get; }

    /// <summary>The caller's position in the run (<see cref="CheckpointContent.Step"/>).</summary>
    public long Step { get; }

    /// <summary>The caller's strings (<see cref="CheckpointContent.Metadata"/>).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The parameter tensors, in the saved set's declaration order.</summary>
    public IReadOnlyList<CheckpointParameter> Parameters { get; }

    /// <summary>The saved optimiser's kind (<c>sgd</c>, <c>adam</c>, <c>adamw</c>, <c>rmsprop</c>), or null when none was saved.</summary>
    public string? OptimizerKind { get; }

    /// <summary>Whether a trainer was saved (then <see cref="CreateTrainer"/> works).</summary>
    public bool HasTrainer => _trainerOptions is not null;

    /// <summary>The saved trainer's <see cref="Trainer.UpdatesApplied"/> (0 when none was saved).</summary>
    public long UpdatesApplied { get; }

    /// <summary>The saved trainer's <see cref="Trainer.UpdatesSkipped"/> (0 when none was saved).</summary>
    public long UpdatesSkipped { get; }

    /// <summary>The saved model's architecture (<see cref="CheckpointContent.Architecture"/>), or null when none was saved.</summary>
    public SequenceModelOptions? Architecture { get; }

    /// <summary>The caller's tensors (<see cref="CheckpointContent.Tensors"/>), flat, by name.</summary>
    public IReadOnlyDictionary<string, float[]> Tensors { get; }

    /// <summary>The names of the saved generators.</summary>
    public IReadOnlyCollection<string> GeneratorNames => _generators.Keys;

    /// <summary>Copies of the parameter values under their names (a state dict, as <see cref="ParameterSet.ToDictionary"/>);
    /// of a reduced checkpoint, the rounded values widened to float32 (bf16 exactly; int8 as q·s).</summary>
    /// <returns>A new dictionary of new arrays.</returns>
    public Dictionary<string, float[]> ToDictionary() =>
        _values.ToDictionary(p => p.Key, p => (float[])p.Value.Clone(), StringComparer.Ordinal);

    /// <summary>Rebuilds the saved model: <see cref="Architecture"/>'s model with the saved parameter values.</summary>
    /// <returns>A new model (dispose it when it is <see cref="IDisposable"/>).</returns>
    /// <remarks>That the architecture declares exactly the saved tensors was checked on load.</remarks>
    /// <exception cref="InvalidOperationException">No architecture was saved, or the checkpoint is reduced (<see cref="WeightPrecision"/>; see <see cref="Restore"/>).</exception>
    public SequenceModel CreateModel()
    {
        if (Architecture is null)
        {
            ThrowHelper.InvalidOperation($"Checkpoint '{Source}' holds no architecture; restore its parameters into a model you build (Restore).");
        }

        ThrowIfReduced(nameof(CreateModel));
        SequenceModel model = Architecture.CreateModel();
        Restore(model.Parameters);
        return model;
    }

    /// <summary>
    /// Rebuilds the saved model for inference at <see cref="WeightPrecision"/>: a <see cref="SequenceClassifierInference"/>,
    /// <see cref="SequenceTaggerInference"/>, <see cref="LanguageModelInference"/>, <see cref="ForecasterInference"/> or
    /// <see cref="EncoderDecoderInference"/> as <see cref="Architecture"/> says, whose recurrent networks hold the saved
    /// precision: its outputs are bit for bit those of the model saved (the float32 model's inference snapshot with each
    /// network reduced by <c>WithWeightPrecision</c>). Embeddings, heads and biases are float32.
    /// </summary>
    /// <returns>The inference model (immutable, shared between threads).</returns>
    /// <exception cref="InvalidOperationException">No architecture was saved.</exception>
    public object CreateInferenceModel()
    {
        if (Architecture is null)
        {
            ThrowHelper.InvalidOperation($"Checkpoint '{Source}' holds no architecture; build its networks with CreateInferenceNetwork.");
        }

        SequenceModel model = Architecture.CreateModel();
        try
        {
            RestoreValues(model.Parameters);
            RecurrentNetwork Reduced(TrainableRecurrentNetwork n) => AtPrecision(n.ToInferenceNetwork(), n.Prefix);
            return model switch
            {
                SequenceClassifier m => m.ToInference() is var c ? new SequenceClassifierInference(m.Options, c.Embedding, Reduced(m.Network), c.Head) : null!,
                SequenceTagger m => m.ToInference() is var t ? new SequenceTaggerInference(m.Options, t.Embedding, Reduced(m.Network), t.Head) : null!,
                LanguageModel m => m.ToInference() is var l ? new LanguageModelInference(m.Options, l.Embedding, Reduced(m.Network), l.Head) : null!,
                Forecaster m => new ForecasterInference(m.Options, Reduced(m.Network), m.Head.ToInferenceLayer()),
                EncoderDecoder m => new EncoderDecoderInference(
                    m.Options, m.SourceEmbedding.ToInferenceEmbedding(), Reduced(m.Encoder), m.TargetEmbedding.ToInferenceEmbedding(), Reduced(m.Decoder), m.Head.ToInferenceLayer()),
                _ => throw new InvalidOperationException($"Checkpoint '{Source}': no inference form of a {model.GetType().Name}."),
            };
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    /// <summary>
    /// The recurrent stack saved under <paramref name="prefix"/> (PyTorch's names: <c>{prefix}weight_ih_l0</c>, …) as an
    /// inference network at <see cref="WeightPrecision"/>, bit for bit the saved one (its float32 network reduced by
    /// <c>WithWeightPrecision</c>); a float32 checkpoint gives a float32 network.
    /// </summary>
    /// <param name="options">The stack's architecture (for a model: its options' <c>Stack</c>).</param>
    /// <param name="prefix">The stack's prefix: <c>rnn.</c> in the models, <c>encoder.</c> and <c>decoder.</c> in the encoder-decoder.</param>
    /// <returns>The network (immutable, shared between threads).</returns>
    /// <exception cref="ArgumentException">A tensor the options need is missing or has the wrong size (the message names it).</exception>
    public RecurrentNetwork CreateInferenceNetwork(RecurrentNetworkOptions options, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(prefix);
        return AtPrecision(RecurrentNetwork.FromPyTorch(options, _values, prefix), prefix);
    }

    /// <summary>A float32 network of this checkpoint's (widened) values at <see cref="WeightPrecision"/>: int8 with the saved scales, so every code comes back.</summary>
    private RecurrentNetwork AtPrecision(RecurrentNetwork network, string prefix) => WeightPrecision == WeightPrecision.Int8
        ? network.WithInt8Scales(name => _int8Scales.TryGetValue(prefix + name, out float[]? s) ? s : throw Invalid($"the int8 scales of '{prefix + name}' are missing"))
        : network.WithWeightPrecision(WeightPrecision);

    /// <summary>Training needs the float32 master weights, which a reduced checkpoint does not hold.</summary>
    private void ThrowIfReduced(string member)
    {
        if (WeightPrecision != WeightPrecision.Float32)
        {
            ThrowHelper.InvalidOperation(
                $"Checkpoint '{Source}' holds {WeightPrecision} weights, an inference snapshot without the float32 master weights, so {member} (training) is refused: " +
                "serve it with CreateInferenceModel or CreateInferenceNetwork, and train from the float32 checkpoint it was made from.");
        }
    }

    /// <summary>Copies the saved values into <paramref name="set"/> and marks it changed.</summary>
    /// <param name="set">A set with exactly the saved tensors: the same names, shapes and roles (in any order).</param>
    /// <exception cref="ArgumentException">The set differs; the message names the first tensor that does.</exception>
    /// <exception cref="InvalidOperationException">The checkpoint is reduced (<see cref="WeightPrecision"/>): it holds
    /// rounded weights, not the float32 master weights a parameter set trains; serve it with
    /// <see cref="CreateInferenceModel"/>.</exception>
    public void Restore(ParameterSet set)
    {
        ThrowIfReduced(nameof(Restore));
        RestoreValues(set);
    }

    private void RestoreValues(ParameterSet set)
    {
        CheckMatches(set);
        foreach (ParameterTensor t in set.Tensors)
        {
            _values[t.Name].CopyTo(set.Value(t));
        }

        set.MarkChanged();
    }

    /// <summary>
    /// A new optimiser of the saved kind with the saved hyperparameters, learning rate and excluded roles, and (when
    /// it had taken steps) its state and step count, bound to <paramref name="set"/>. Its next
    /// <see cref="Optimizer.Step"/> on <paramref name="set"/> after <see cref="Restore"/> gives the bits the saved
    /// one's would have.
    /// </summary>
    /// <param name="set">A set matching the checkpoint, as for <see cref="Restore"/>.</param>
    /// <returns>The optimiser.</returns>
    /// <exception cref="ArgumentException">The set differs from the checkpoint's.</exception>
    /// <exception cref="InvalidOperationException">No optimiser was saved.</exception>
    public Optimizer CreateOptimizer(ParameterSet set)
    {
        ThrowIfReduced(nameof(CreateOptimizer));
        CheckMatches(set);
        if (OptimizerKind is null)
        {
            ThrowHelper.InvalidOperation($"Checkpoint '{Source}' holds no optimiser.");
        }

        return BuildOptimizer(set);
    }

    /// <summary>A new trainer with the saved options and counters, over <paramref name="set"/> with <see cref="CreateOptimizer"/>'s optimiser.</summary>
    /// <param name="set">A set matching the checkpoint, as for <see cref="Restore"/>.</param>
    /// <returns>The trainer.</returns>
    /// <exception cref="ArgumentException">The set differs from the checkpoint's.</exception>
    /// <exception cref="InvalidOperationException">No trainer was saved.</exception>
    public Trainer CreateTrainer(ParameterSet set)
    {
        ThrowIfReduced(nameof(CreateTrainer));
        CheckMatches(set);
        if (_trainerOptions is null)
        {
            ThrowHelper.InvalidOperation($"Checkpoint '{Source}' holds no trainer.");
        }

        var trainer = new Trainer(set, BuildOptimizer(set), _trainerOptions);
        trainer.RestoreCounters(UpdatesApplied, UpdatesSkipped);
        return trainer;
    }

    /// <summary>A generator in the saved state of the one saved as <paramref name="name"/>.</summary>
    /// <param name="name">One of <see cref="GeneratorNames"/>.</param>
    /// <returns>The generator.</returns>
    /// <exception cref="ArgumentException">No generator of that name was saved.</exception>
    public DeterministicRandom CreateGenerator(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!_generators.TryGetValue(name, out DeterministicRandomState state))
        {
            ThrowHelper.Argument(nameof(name), $"Checkpoint '{Source}' holds no generator named '{name}'.");
        }

        return new DeterministicRandom(0) { State = state };
    }

    /// <summary>Reads and checks the bytes of a whole checkpoint file.</summary>
    internal static LoadedCheckpoint Parse(byte[] bytes, string source)
    {
        if (bytes.Length == 0)
        {
            throw new InvalidDataException($"checkpoint '{source}' is damaged: the file is empty.");
        }

        SafeTensorsFile file;
        try
        {
            file = SafeTensorsFile.Load(bytes);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"checkpoint '{source}' is damaged: {e.Message}", e);
        }

        // The checksum first: damage anywhere (the format keys included) reads as damage.
        if (file.Metadata.TryGetValue(Checkpoint.ChecksumKey, out string? checksum) && checksum != Checkpoint.Checksum(file, bytes))
        {
            throw new InvalidDataException($"checkpoint '{source}' is damaged: checksum mismatch.");
        }

        if (!file.Metadata.TryGetValue(Checkpoint.FormatKey, out string? format) || format != Checkpoint.FormatName)
        {
            string found = format is null ? "no 'format' metadata" : $"'format' metadata '{format}'";
            throw new InvalidDataException($"checkpoint '{source}' is not an rnn-simd checkpoint: it has {found}, expected '{Checkpoint.FormatName}'.");
        }

        string version = file.Metadata.TryGetValue(Checkpoint.VersionKey, out string? v) ? v : "(none)";
        if (version != Checkpoint.FormatVersion.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidDataException($"checkpoint '{source}' has format version {version}; this library reads version {Checkpoint.FormatVersion}.");
        }

        if (checksum is null)
        {
            throw new InvalidDataException($"checkpoint '{source}' is damaged: it has no checksum.");
        }

        return new LoadedCheckpoint(file, source);
    }

    private Optimizer BuildOptimizer(ParameterSet set)
    {
        Optimizer optimizer = CheckpointOptimizers.Create(_metadata, Invalid);
        if (_optimizerSteps == 0)
        {
            if (_optimizerState.Count > 0)
            {
                throw Invalid("the optimiser has state but a step count of 0");
            }

            return optimizer;
        }

        int filled = 0;
        optimizer.ImportState(set, _optimizerSteps, (name, buffer) =>
        {
            foreach (ParameterTensor t in set.Tensors)
            {
                if (!_optimizerState.TryGetValue($"{name}/{t.Name}", out float[]? state))
                {
                    throw Invalid($"the {OptimizerKind} state '{name}' of parameter '{t.Name}' is missing");
                }

                state.CopyTo(buffer.AsSpan(t.Offset));
                filled++;
            }
        });

        if (filled != _optimizerState.Count)
        {
            throw Invalid($"it holds {_optimizerState.Count} optimiser state tensors; {OptimizerKind} with these options has {filled}");
        }

        return optimizer;
    }

    private List<CheckpointParameter> ReadParameters(SafeTensorsFile file, HashSet<string> consumed)
    {
        var parameters = new List<CheckpointParameter>();
        string json = CheckpointOptimizers.Value(_metadata, Checkpoint.ParametersKey, Invalid);
        try
        {
            using var document = JsonDocument.Parse(json);
            foreach (JsonElement element in document.RootElement.EnumerateArray())
            {
                string name = element.GetProperty("name").GetString() ?? throw Invalid("a parameter has no name");
                string roleName = element.GetProperty("role").GetString() ?? "";
                if (!Enum.TryParse(roleName, out ParameterRole role) || !Enum.IsDefined(role) || int.TryParse(roleName, out _))
                {
                    throw Invalid($"parameter '{name}' has an unknown role '{roleName}'");
                }

                string tensor = Checkpoint.ParameterPrefix + name;
                if (!consumed.Add(tensor))
                {
                    throw Invalid($"parameter '{name}' is listed twice");
                }

                SafeTensorsEntry entry = file.TryGetEntry(tensor, out SafeTensorsEntry? e) ? e : throw Invalid($"tensor '{tensor}' is missing");
                bool reduced = WeightPrecision != WeightPrecision.Float32 && CheckpointPrecision.IsRecurrentMatrix(name);
                SafeTensorsDType stored = !reduced ? SafeTensorsDType.F32 : WeightPrecision == WeightPrecision.BFloat16 ? SafeTensorsDType.BF16 : SafeTensorsDType.I8;
                int[] shape = CheckShape(entry, stored);
                float[] values = stored == SafeTensorsDType.I8 ? ReadInt8(file, name, shape, consumed) : file.ReadSingle(tensor);
                int bad = Array.FindIndex(values, x => !float.IsFinite(x));
                if (bad >= 0)
                {
                    throw Invalid(string.Create(CultureInfo.InvariantCulture, $"parameter '{name}' holds {values[bad]} at index {bad}"));
                }

                var parameter = new CheckpointParameter(name, shape, role);
                parameters.Add(parameter);
                _byName.Add(name, parameter);
                _values.Add(name, values);
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw Invalid($"metadata '{Checkpoint.ParametersKey}' is not a list of {{\"name\", \"role\"}} objects ({e.Message})");
        }

        foreach (SafeTensorsEntry entry in file.Tensors)
        {
            if (entry.Name.StartsWith(Checkpoint.ParameterPrefix, StringComparison.Ordinal) && !consumed.Contains(entry.Name))
            {
                throw Invalid($"tensor '{entry.Name}' is not listed in metadata '{Checkpoint.ParametersKey}'");
            }
        }

        return parameters;
    }

    /// <summary>
    /// An int8 matrix: its I8 codes (each in [−127, 127]) and its scales <c>scale/&lt;name&gt;</c> (F32 [rows], finite,
    /// ≥ 0), kept for the networks; returns the widened values q·s.
    /// </summary>
    private float[] ReadInt8(SafeTensorsFile file, string name, int[] shape, HashSet<string> consumed)
    {
        string tensor = Checkpoint.ParameterPrefix + name, scaleTensor = CheckpointPrecision.ScalePrefix + name;
        if (!file.TryGetEntry(scaleTensor, out SafeTensorsEntry? entry))
        {
            throw Invalid($"tensor '{scaleTensor}' (the int8 scales of '{tensor}') is missing");
        }

        int rows = shape[0];
        if (entry.DType != SafeTensorsDType.F32 || entry.Shape.Length != 1 || entry.Shape[0] != rows)
        {
            throw Invalid($"tensor '{scaleTensor}' must be F32 [{rows}] (one scale per row of '{tensor}'), is {entry}");
        }

        float[] scales = file.ReadSingle(scaleTensor);
        if (Array.FindIndex(scales, v => !float.IsFinite(v) || v < 0f) is int bad and >= 0)
        {
            throw Invalid(string.Create(CultureInfo.InvariantCulture, $"tensor '{scaleTensor}' holds {scales[bad]} at index {bad}; a scale is finite and at least 0"));
        }

        byte[] bytes = new byte[checked((int)file.GetEntry(tensor).ElementCount)];
        file.ReadBytes(tensor, bytes);
        int columns = bytes.Length / rows;
        float[] values = new float[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            sbyte q = (sbyte)bytes[i];
            if (q < -Kernels.Gemm.ReducedWeights.Int8Max)
            {
                throw Invalid($"tensor '{tensor}' holds the int8 code {q} at index {i}; codes are in [-{Kernels.Gemm.ReducedWeights.Int8Max}, {Kernels.Gemm.ReducedWeights.Int8Max}]");
            }

            values[i] = q * scales[i / columns];
        }

        _int8Scales.Add(name, scales);
        consumed.Add(scaleTensor);
        return values;
    }

    private void ReadOptimizerState(SafeTensorsFile file, HashSet<string> consumed)
    {
        foreach (SafeTensorsEntry entry in file.Tensors)
        {
            if (!entry.Name.StartsWith(Checkpoint.OptimizerPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            string key = entry.Name[Checkpoint.OptimizerPrefix.Length..];
            int slash = key.IndexOf('/', StringComparison.Ordinal);
            string parameter = slash < 0 ? "" : key[(slash + 1)..];
            if (!_byName.TryGetValue(parameter, out CheckpointParameter? p))
            {
                throw Invalid($"optimiser state '{entry.Name}' belongs to no parameter");
            }

            if (!CheckShape(entry).SequenceEqual(p.Shape))
            {
                throw Invalid($"optimiser state '{entry.Name}' has shape [{string.Join(", ", entry.Shape)}]; its parameter has [{string.Join(", ", p.Shape)}]");
            }

            float[] values = file.ReadSingle(entry.Name);
            int bad = Array.FindIndex(values, v => !float.IsFinite(v));
            if (bad >= 0)
            {
                throw Invalid(string.Create(CultureInfo.InvariantCulture, $"optimiser state '{entry.Name}' holds {values[bad]} at index {bad}"));
            }

            _optimizerState.Add(key, values);
            consumed.Add(entry.Name);
        }
    }

    private IReadOnlyDictionary<string, float[]> ReadUserTensors(SafeTensorsFile file, HashSet<string> consumed)
    {
        var tensors = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (SafeTensorsEntry entry in file.Tensors)
        {
            if (!entry.Name.StartsWith(Checkpoint.UserTensorPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            if (entry.DType != SafeTensorsDType.F32 || entry.Shape.Length != 1 || entry.Shape[0] < 1)
            {
                throw Invalid($"tensor '{entry.Name}' must be F32 with one dimension of at least 1, is {entry}");
            }

            float[] values = file.ReadSingle(entry.Name);
            if (Array.FindIndex(values, v => !float.IsFinite(v)) is int bad and >= 0)
            {
                throw Invalid($"tensor '{entry.Name}' holds a non-finite value at index {bad}");
            }

            tensors.Add(entry.Name[Checkpoint.UserTensorPrefix.Length..], values);
            consumed.Add(entry.Name);
        }

        return tensors.AsReadOnly();
    }

    private void ReadGenerators(SafeTensorsFile file, HashSet<string> consumed)
    {
        foreach (SafeTensorsEntry entry in file.Tensors)
        {
            if (!entry.Name.StartsWith(Checkpoint.GeneratorPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            string name = entry.Name[Checkpoint.GeneratorPrefix.Length..];
            if (entry.DType != SafeTensorsDType.I64 || entry.Shape.Length != 1 || entry.Shape[0] != Checkpoint.GeneratorLength)
            {
                throw Invalid($"generator '{entry.Name}' must be I64 [{Checkpoint.GeneratorLength}], is {entry}");
            }

            long[] w = file.ReadInt64(entry.Name);
            if (w[5] is not (0 or 1))
            {
                throw Invalid($"generator '{name}' has a spare-normal flag of {w[5]}; expected 0 or 1");
            }

            var state = new DeterministicRandomState((ulong)w[0], (ulong)w[1], (ulong)w[2], (ulong)w[3], w[5] == 1 ? BitConverter.Int64BitsToDouble(w[4]) : null);
            try
            {
                _ = new DeterministicRandom(0) { State = state };
            }
            catch (ArgumentException e)
            {
                throw Invalid($"generator '{name}' has an impossible state: {e.Message}");
            }

            _generators.Add(name, state);
            consumed.Add(entry.Name);
        }
    }

    private int[] CheckShape(SafeTensorsEntry entry, SafeTensorsDType expected = SafeTensorsDType.F32)
    {
        if (entry.DType != expected)
        {
            string why = expected == SafeTensorsDType.F32 ? "" : $" (a {CheckpointPrecision.Name(WeightPrecision)} checkpoint's recurrent matrix)";
            throw Invalid($"tensor '{entry.Name}' is {SafeTensorsDTypes.Name(entry.DType)}; expected {SafeTensorsDTypes.Name(expected)}{why}");
        }

        if (entry.Shape.Length == 0 || entry.Shape.Any(d => d < 1 || d > int.MaxValue) || entry.ElementCount > Array.MaxLength)
        {
            throw Invalid($"tensor '{entry.Name}' has shape [{string.Join(", ", entry.Shape)}]; a parameter has at least one dimension, each at least 1");
        }

        return [.. entry.Shape.Select(d => (int)d)];
    }

    /// <summary>
    /// The architecture must declare exactly the saved tensors (names, shapes, roles, in order), so that
    /// <see cref="CreateModel"/> never builds a model the file's weights do not fill (and never allocates for sizes the
    /// file only claims). Compared on declarations, before anything is allocated.
    /// </summary>
    private void CheckArchitecture(SequenceModelOptions architecture)
    {
        if (architecture.DeclaredLayers > Parameters.Count / 2)
        {
            throw Invalid($"the architecture declares {architecture.DeclaredLayers} recurrent layers but only {Parameters.Count} parameter tensors are saved");
        }

        IReadOnlyList<ParameterSpec> specs;
        try
        {
            specs = architecture.ParameterSpecs();
        }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            throw Invalid($"the architecture declares no valid parameters ({e.Message})");
        }

        if (specs.Count != Parameters.Count)
        {
            throw Invalid($"the architecture declares {specs.Count} parameter tensors but {Parameters.Count} are saved");
        }

        for (int i = 0; i < specs.Count; i++)
        {
            ParameterSpec spec = specs[i];
            CheckpointParameter saved = Parameters[i];
            if (spec.Name != saved.Name || !spec.Shape.SequenceEqual(saved.Shape) || spec.Role != saved.Role)
            {
                throw Invalid(string.Create(CultureInfo.InvariantCulture,
                    $"the architecture declares parameter {i} as '{spec.Name}' [{string.Join(", ", spec.Shape)}] {spec.Role}, but '{saved.Name}' [{string.Join(", ", saved.Shape)}] {saved.Role} is saved"));
            }
        }
    }

    private void CheckMatches(ParameterSet set)
    {
        ArgumentNullException.ThrowIfNull(set);
        foreach (ParameterTensor t in set.Tensors)
        {
            if (!_byName.TryGetValue(t.Name, out CheckpointParameter? saved))
            {
                ThrowHelper.Argument(nameof(set), $"Parameter '{t.Name}' is not in checkpoint '{Source}'.");
            }

            if (!saved.Shape.SequenceEqual(t.Shape))
            {
                ThrowHelper.Argument(nameof(set), $"Parameter '{t.Name}' has shape [{string.Join(", ", t.Shape)}]; checkpoint '{Source}' has [{string.Join(", ", saved.Shape)}].");
            }

            if (saved.Role != t.Role)
            {
                ThrowHelper.Argument(nameof(set), $"Parameter '{t.Name}' has role {t.Role}; checkpoint '{Source}' has {saved.Role}.");
            }
        }

        if (set.Tensors.Count != Parameters.Count)
        {
            string missing = string.Join(", ", Parameters.Where(p => !set.TryGet(p.Name, out _)).Select(p => $"'{p.Name}'"));
            ThrowHelper.Argument(nameof(set), $"The set lacks parameter(s) {missing} of checkpoint '{Source}'.");
        }
    }

    private long Count(string key)
    {
        string text = CheckpointOptimizers.Value(_metadata, key, Invalid);
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value)
            ? value
            : throw Invalid($"metadata '{key}' is '{text}', not a non-negative integer");
    }

    private double? OptionalNumber(string key) =>
        _metadata.TryGetValue(key, out string? text) ? CheckpointOptimizers.ParseNumber(text, key, Invalid) : null;

    private InvalidDataException Invalid(string what) => new($"checkpoint '{Source}' is invalid: {what}.");
}
