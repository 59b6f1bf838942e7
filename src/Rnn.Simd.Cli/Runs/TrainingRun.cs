using System.Globalization;
using System.Security.Cryptography;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Networks;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Cli.Runs;

/// <summary>
/// A stateful training run on one long sequence cut into contiguous streams (<see cref="ContiguousStreams"/>): the
/// model, its trainer, the data cursor and the state carried between chunks, all of which a checkpoint saves so that
/// a resumed run continues bit for bit.
/// </summary>
internal abstract class TrainingRun : IDisposable
{
    public const string TaskKey = "rnn_simd.task", SettingsKey = "train.settings", DataHashKey = "data.sha256",
        CursorKey = "data.cursor", HiddenTensor = "carried.h", CellTensor = "carried.c";

    private protected TrainingRun(TrainSettings settings, string dataHash, int sequenceLength)
    {
        Settings = settings;
        DataHash = dataHash;
        Streams = new Data.ContiguousStreams(sequenceLength, settings.Batch, settings.Steps);
    }

    // Gradient accumulation: every stream's carried state [L, B, Hout] and [L, B, H] (LSTM; else empty) between
    // updates, and one micro-batch's [L, B/K, ·] slice of it.
    private float[]? _hidden, _cell, _groupHidden, _groupCell;
    private bool _groupsCarryState;

    public TrainSettings Settings { get; private protected set; }

    /// <summary>The SHA-256 of the data file, so that a resume on other data is refused.</summary>
    public string DataHash { get; }

    public Data.ContiguousStreams Streams { get; }

    public abstract StatefulSequenceModel Model { get; }

    public abstract Trainer Trainer { get; }

    /// <summary>The losses seen so far, the best held-out loss and the plateau schedule's state.</summary>
    public TrainingHistory History { get; private set; } = new();

    /// <summary>Updates taken so far.</summary>
    public long Step { get; private protected set; }

    /// <summary>What the loss is measured in ("nats/symbol", "MSE").</summary>
    public abstract string LossUnit { get; }

    /// <summary>The task's name in checkpoints ("text", "series").</summary>
    public abstract string Task { get; }

    /// <summary>
    /// One update: the next chunk (the carried state reset at an epoch start), forward, backward, optimiser step. With
    /// <see cref="TrainSettings.Accumulate"/> K &gt; 1 the B streams train as K micro-batches of B/K consecutive streams,
    /// each carrying its own state, their gradients added and the update taken with 1/K of their sum: the update of the
    /// whole batch up to float summation order, with a K-th of the activations in memory.
    /// </summary>
    public double TrainOne(ThreadTeam? threads)
    {
        int start = Streams.Next(out bool epochStart);
        if (epochStart)
        {
            Model.ResetState();
            _groupsCarryState = false;
        }

        FillChunk(start);
        int groups = Settings.Accumulate;
        double loss;
        if (groups == 1)
        {
            loss = TrainGroup(0, 1, threads);
        }
        else
        {
            loss = 0;
            for (int k = 0; k < groups; k++)
            {
                if (_groupsCarryState)
                {
                    GroupState(k, out ReadOnlySpan<float> h, out ReadOnlySpan<float> c);
                    Model.RestoreState(h, c, Settings.Batch / groups);
                }
                else
                {
                    Model.ResetState();
                }

                loss += TrainGroup(k, groups, threads);
                KeepGroupState(k);
            }

            _groupsCarryState = true;
            loss /= groups;
        }

        Trainer.Update(1f / groups);
        Step++;
        return loss;
    }

    /// <summary>The loss on the held-out tail of the data (NaN when there is none), the recurrent weights of the inference snapshot at <paramref name="precision"/>.</summary>
    public abstract double Validate(ThreadTeam? threads, WeightPrecision precision = WeightPrecision.Float32);

    /// <summary>A short generated continuation, to see what the model has learnt.</summary>
    public abstract string Preview(int length, ThreadTeam? threads);

    public CheckpointContent ToCheckpoint()
    {
        bool grouped = Settings.Accumulate > 1;
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [TaskKey] = Task,
            [SettingsKey] = Settings.ToJson(),
            [DataHashKey] = DataHash,
            [CursorKey] = Streams.Cursor.ToString(CultureInfo.InvariantCulture),
            [TrainingHistory.Key] = History.ToJson(),
        };
        AddMetadata(metadata);
        var tensors = new Dictionary<string, float[]>(StringComparer.Ordinal);
        if (grouped ? _groupsCarryState : !Model.CarriedHidden.IsEmpty)
        {
            tensors[HiddenTensor] = grouped ? _hidden!.ToArray() : Model.CarriedHidden.ToArray();
        }

        if (grouped ? _groupsCarryState && _cell!.Length > 0 : !Model.CarriedCell.IsEmpty)
        {
            tensors[CellTensor] = grouped ? _cell!.ToArray() : Model.CarriedCell.ToArray();
        }

        return new CheckpointContent { Parameters = Model.Parameters, Architecture = Model.Options, Trainer = Trainer, Step = Step, Metadata = metadata, Tensors = tensors };
    }

    public void Dispose() => Model.Dispose();

    /// <summary>The SHA-256 (hex) of a file's bytes.</summary>
    public static string HashFile(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    /// <summary>Restores the cursor, the carried state and the step from a checkpoint of this run's task and data.</summary>
    private protected void RestorePosition(LoadedCheckpoint checkpoint)
    {
        string cursor = Required(checkpoint, CursorKey);
        if (!int.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out int position) || position < 0 || position > Streams.StreamLength)
        {
            throw new InvalidDataException($"Checkpoint '{checkpoint.Source}' has an invalid data cursor '{cursor}'.");
        }

        Streams.Cursor = position;
        Step = checkpoint.Step;
        Model.Network.DropoutStep = Step * Settings.Accumulate;   // K forward passes per update: the masks an uninterrupted run draws next
        History = checkpoint.Metadata.TryGetValue(TrainingHistory.Key, out string? history) ? TrainingHistory.FromJson(history, checkpoint.Source) : new TrainingHistory();
        float[]? h = checkpoint.Tensors.GetValueOrDefault(HiddenTensor), c = checkpoint.Tensors.GetValueOrDefault(CellTensor);
        if (h is null)
        {
            Model.ResetState();
        }
        else
        {
            try
            {
                Model.RestoreState(h, c ?? [], Settings.Batch);
            }
            catch (ArgumentException e)
            {
                throw new InvalidDataException($"Checkpoint '{checkpoint.Source}' has a carried state that does not fit its model: {e.Message}");
            }

            if (Settings.Accumulate > 1)
            {
                _hidden = h;
                _cell = c ?? [];
                _groupsCarryState = true;
            }
        }
    }

    /// <summary>
    /// The settings a checkpoint was trained with, except what the command line may change on resume: the update
    /// count, the checkpoint cadence and count, the threads.
    /// </summary>
    private protected static TrainSettings ResumedSettings(LoadedCheckpoint checkpoint, TrainSettings overrides)
    {
        TrainSettings saved = TrainSettings.FromJson(Required(checkpoint, SettingsKey));
        try
        {
            saved.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"Checkpoint '{checkpoint.Source}' has training settings out of range: {e.Message}");
        }

        TrainSettings settings = saved with
        {
            Updates = overrides.Updates, Every = overrides.Every, Keep = overrides.Keep, Threads = overrides.Threads,
        };
        settings.Validate();
        return settings;
    }

    /// <summary>
    /// Builds a resumed run; the command line's values were validated before, so an <see cref="ArgumentException"/> here
    /// means the checkpoint's own settings do not fit its own data (e.g. more steps per chunk than the text holds).
    /// </summary>
    private protected static T Fitting<T>(LoadedCheckpoint checkpoint, Func<T> create)
    {
        try
        {
            return create();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"Checkpoint '{checkpoint.Source}' has settings that do not fit its own training data: {e.Message}");
        }
    }

    /// <summary>The checkpoint's trainer over <paramref name="parameters"/>; a checkpoint without one was not written by <c>train</c>.</summary>
    private protected static Trainer TrainerOf(LoadedCheckpoint checkpoint, ParameterSet parameters) =>
        checkpoint.HasTrainer ? checkpoint.CreateTrainer(parameters)
            : throw new InvalidDataException($"Checkpoint '{checkpoint.Source}' was not written by 'rnn-simd train' (no trainer).");

    /// <summary>The checkpoint's model, of the kind this task trains.</summary>
    private protected static T ModelOf<T>(LoadedCheckpoint checkpoint)
        where T : SequenceModel =>
        checkpoint.Architecture is null ? throw new InvalidDataException($"Checkpoint '{checkpoint.Source}' holds no model architecture.")
        : checkpoint.CreateModel() is T model ? model
        : throw new InvalidDataException($"Checkpoint '{checkpoint.Source}' holds a {checkpoint.Architecture.GetType().Name}, not a {typeof(T).Name}.");

    /// <summary>
    /// The model of a checkpoint to serve: the float32 model's inference snapshot (<paramref name="snapshot"/>), or a
    /// reduced checkpoint's model at its precision (<see cref="LoadedCheckpoint.CreateInferenceModel"/>).
    /// </summary>
    private protected static TInference ServedOf<TModel, TInference>(LoadedCheckpoint checkpoint, Func<TModel, TInference> snapshot)
        where TModel : SequenceModel
        where TInference : class
    {
        if (checkpoint.WeightPrecision == WeightPrecision.Float32)
        {
            TModel model = ModelOf<TModel>(checkpoint);
            try
            {
                return snapshot(model);
            }
            finally
            {
                (model as IDisposable)?.Dispose();
            }
        }

        return checkpoint.Architecture is null ? throw new InvalidDataException($"Checkpoint '{checkpoint.Source}' holds no model architecture.")
            : checkpoint.CreateInferenceModel() as TInference
            ?? throw new InvalidDataException($"Checkpoint '{checkpoint.Source}' holds a {checkpoint.Architecture.GetType().Name}, not a {typeof(TModel).Name}.");
    }

    /// <summary>The value of a metadata key the command line wrote; a clear error when missing.</summary>
    public static string Required(LoadedCheckpoint checkpoint, string key) =>
        checkpoint.Metadata.TryGetValue(key, out string? value) ? value
            : throw new InvalidDataException($"Checkpoint '{checkpoint.Source}' was not written by 'rnn-simd train' (no '{key}').");

    /// <summary>Checks that a checkpoint belongs to this task and data file.</summary>
    private protected static void CheckCheckpoint(LoadedCheckpoint checkpoint, string task, string dataHash, string dataPath)
    {
        string saved = Required(checkpoint, TaskKey);
        if (saved != task)
        {
            throw new ArgumentException($"Checkpoint '{checkpoint.Source}' is a {saved} model, not a {task} model.");
        }

        if (Required(checkpoint, DataHashKey) != dataHash)
        {
            throw new ArgumentException($"'{dataPath}' is not the data checkpoint '{checkpoint.Source}' was trained on (its SHA-256 differs); resume on the same file.");
        }
    }

    /// <summary>Fills the inputs and targets [T, B] of the chunk at <paramref name="start"/>.</summary>
    private protected abstract void FillChunk(int start);

    /// <summary>Forward and backward over streams [k·B/K, (k + 1)·B/K) of the filled chunk (k = <paramref name="group"/>, K = <paramref name="groups"/>); returns the mean loss.</summary>
    private protected abstract double TrainGroup(int group, int groups, ThreadTeam? threads);

    /// <summary>
    /// The columns [k·G, (k + 1)·G) of a time-major [T, B] chunk as [T, G] (G = B/K), copied into <paramref name="group"/>;
    /// the chunk itself when K = 1.
    /// </summary>
    private protected static T[] Columns<T>(T[] chunk, T[] group, int k, int groups, int steps, int batch)
    {
        if (groups == 1)
        {
            return chunk;
        }

        int size = batch / groups;
        for (int t = 0; t < steps; t++)
        {
            chunk.AsSpan((t * batch) + (k * size), size).CopyTo(group.AsSpan(t * size, size));
        }

        return group;
    }

    /// <summary>Micro-batch k's carried state [L, G, ·] gathered from every stream's [L, B, ·].</summary>
    private void GroupState(int k, out ReadOnlySpan<float> h, out ReadOnlySpan<float> c)
    {
        h = Gather(_hidden!, _groupHidden ??= new float[_hidden!.Length / Settings.Accumulate], k);
        c = _cell!.Length == 0 ? default : Gather(_cell, _groupCell ??= new float[_cell.Length / Settings.Accumulate], k);
    }

    /// <summary>Scatters the model's carried state after micro-batch k back into every stream's [L, B, ·].</summary>
    private void KeepGroupState(int k)
    {
        int groups = Settings.Accumulate;
        _hidden ??= new float[Model.CarriedHidden.Length * groups];
        _cell ??= new float[Model.CarriedCell.Length * groups];
        Scatter(Model.CarriedHidden, _hidden, k);
        Scatter(Model.CarriedCell, _cell, k);
    }

    private Span<float> Gather(float[] all, float[] group, int k)
    {
        int layers = Model.Network.Options.Layers, rowsPerLayer = all.Length / layers, groupRows = group.Length / layers;
        for (int l = 0; l < layers; l++)
        {
            all.AsSpan((l * rowsPerLayer) + (k * groupRows), groupRows).CopyTo(group.AsSpan(l * groupRows, groupRows));
        }

        return group;
    }

    private void Scatter(ReadOnlySpan<float> group, float[] all, int k)
    {
        if (group.IsEmpty)
        {
            return;
        }

        int layers = Model.Network.Options.Layers, rowsPerLayer = all.Length / layers, groupRows = group.Length / layers;
        for (int l = 0; l < layers; l++)
        {
            group.Slice(l * groupRows, groupRows).CopyTo(all.AsSpan((l * rowsPerLayer) + (k * groupRows), groupRows));
        }
    }

    private protected abstract void AddMetadata(Dictionary<string, string> metadata);

    /// <summary>The trainer of a new run: Adam (AdamW with decoupled weight decay, biases excluded, when the settings ask
    /// for decay), global-norm clipping, non-finite updates skipped.</summary>
    private protected static Trainer NewTrainer(ParameterSet parameters, TrainSettings settings)
    {
        Optimizer optimizer = settings.WeightDecay > 0
            ? new AdamW(settings.LearningRate, weightDecay: settings.WeightDecay) { WeightDecayExcludedRoles = Optimizer.BiasRoles }
            : new Adam(settings.LearningRate);
        return new(parameters, optimizer, new TrainerOptions { MaxGradientNorm = settings.Clip > 0 ? settings.Clip : null });
    }
}
