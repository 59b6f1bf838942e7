using System.Globalization;
using System.Security.Cryptography;
using Rnn.Simd.IO;
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

    /// <summary>One update: the next chunk (the carried state reset at an epoch start), forward, backward, optimiser step.</summary>
    public double TrainOne(ThreadTeam? threads)
    {
        int start = Streams.Next(out bool epochStart);
        if (epochStart)
        {
            Model.ResetState();
        }

        double loss = TrainChunk(start, threads);
        Trainer.Update();
        Step++;
        return loss;
    }

    /// <summary>The loss on the held-out tail of the data (NaN when there is none).</summary>
    public abstract double Validate(ThreadTeam? threads);

    /// <summary>A short generated continuation, to see what the model has learnt.</summary>
    public abstract string Preview(int length, ThreadTeam? threads);

    public CheckpointContent ToCheckpoint()
    {
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
        if (!Model.CarriedHidden.IsEmpty)
        {
            tensors[HiddenTensor] = Model.CarriedHidden.ToArray();
        }

        if (!Model.CarriedCell.IsEmpty)
        {
            tensors[CellTensor] = Model.CarriedCell.ToArray();
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
        Model.Network.DropoutStep = Step;   // one forward pass per update: the masks an uninterrupted run draws next
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

    private protected abstract double TrainChunk(int start, ThreadTeam? threads);

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
