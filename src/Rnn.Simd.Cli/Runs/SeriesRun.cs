using System.Globalization;
using System.Text.Json;
using Rnn.Simd.Cells;
using Rnn.Simd.Cli.Data;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Networks;
using Rnn.Simd.Training;

namespace Rnn.Simd.Cli.Runs;

/// <summary>
/// A next-value forecaster on one column of a CSV file: the series standardised (mean and standard deviation kept in
/// the checkpoint), a recurrent stack with a linear head predicting the next value (MSE), trained on contiguous
/// streams like <see cref="TextRun"/>; the last tenth (at most 10 000 values) is held out.
/// </summary>
internal sealed class SeriesRun : TrainingRun
{
    public const string MeanKey = "series.mean", ScaleKey = "series.std", TailKey = "series.tail", ColumnKey = "series.column";
    private const int MaxHeldOut = 10_000, TailLength = 1000;

    private readonly Forecaster _model;
    private readonly Trainer _trainer;
    private readonly float[] _train, _heldOut, _inputs, _targets, _groupInputs, _groupTargets;
    private readonly float[] _raw;
    private readonly string _column;

    private SeriesRun(TrainSettings settings, string dataHash, string column, float[] raw, double mean, double scale, Forecaster model, Trainer trainer)
        : base(settings, dataHash, Split(raw.Length).Train)
    {
        _raw = raw;
        _column = column;
        Mean = mean;
        Scale = scale;
        float[] standard = [.. raw.Select(v => (float)((v - mean) / scale))];
        int train = Split(raw.Length).Train;
        (_train, _heldOut) = (standard[..train], standard[train..]);
        _model = model;
        _trainer = trainer;
        _inputs = new float[settings.Steps * settings.Batch];
        _targets = new float[_inputs.Length];
        _groupInputs = new float[_inputs.Length / settings.Accumulate];
        _groupTargets = new float[_inputs.Length / settings.Accumulate];
    }

    public double Mean { get; }

    public double Scale { get; }

    public override StatefulSequenceModel Model => _model;

    public override Trainer Trainer => _trainer;

    public override string LossUnit => "MSE, standardised";

    public override string Task => "series";

    public static SeriesRun Start(string path, string? column, TrainSettings settings)
    {
        settings.Validate();
        (float[] raw, string hash, string name) = Read(path, column);
        double mean = raw.Average(v => (double)v);
        double scale = Math.Sqrt(raw.Average(v => (v - mean) * (v - mean)));
        if (!(scale > 0))
        {
            throw new InvalidDataException($"Column '{name}' of '{path}' is constant: there is nothing to forecast.");
        }

        var options = new ForecasterOptions
        {
            InputSize = 1, Recurrent = settings.Recurrent, Dropout = settings.DropoutOptions,
        };
        var model = Forecaster.Create(options, settings.Seed);
        return new SeriesRun(settings, hash, name, raw, mean, scale, model, NewTrainer(model.Parameters, settings));
    }

    public static SeriesRun Resume(LoadedCheckpoint checkpoint, string path, string? column, TrainSettings overrides)
    {
        string savedColumn = Required(checkpoint, ColumnKey);
        (float[] raw, string hash, string name) = Read(path, column ?? savedColumn);
        CheckCheckpoint(checkpoint, "series", hash, path);
        if (name != savedColumn)
        {
            throw new ArgumentException($"Checkpoint '{checkpoint.Source}' was trained on column '{savedColumn}', not '{name}'.");
        }

        TrainSettings settings = ResumedSettings(checkpoint, overrides);
        var model = ModelOf<Forecaster>(checkpoint);
        SeriesRun run = Fitting(checkpoint, () => new SeriesRun(
            settings, hash, name, raw, Number(checkpoint, MeanKey), Number(checkpoint, ScaleKey), model, TrainerOf(checkpoint, model.Parameters)));
        run.RestorePosition(checkpoint);
        return run;
    }

    /// <summary>Primes a checkpoint's model on its series' saved tail and rolls out <paramref name="count"/> values (in the data's units).</summary>
    public static float[] Forecast(LoadedCheckpoint checkpoint, int count, ThreadTeam? threads)
    {
        if (Required(checkpoint, TaskKey) != "series")
        {
            throw new ArgumentException($"Checkpoint '{checkpoint.Source}' is not a series model.");
        }

        double mean = Number(checkpoint, MeanKey), scale = Number(checkpoint, ScaleKey);
        float[] tail;
        try
        {
            tail = JsonSerializer.Deserialize<float[]>(Required(checkpoint, TailKey)) ?? [];
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Checkpoint '{checkpoint.Source}' has a series tail that is not a JSON array of numbers: {e.Message}");
        }

        ForecasterInference model = ServedOf<Forecaster, ForecasterInference>(checkpoint, m => m.ToInference());
        return Rollout(model, [.. tail.Select(v => (float)((v - mean) / scale))], count, mean, scale, threads);
    }

    public override double Validate(ThreadTeam? threads, WeightPrecision precision = WeightPrecision.Float32)
    {
        if (_heldOut.Length == 0)
        {
            return double.NaN;
        }

        ForecasterInference model = _model.ToInference();
        if (precision != WeightPrecision.Float32)
        {
            model = new ForecasterInference(model.Options, model.Network.WithWeightPrecision(precision), model.Head);
        }

        ForecastStream stream = model.CreateForecast();
        stream.Prime(_train, _train.Length, threads);
        double sum = 0;
        for (int i = 0; i < _heldOut.Length; i++)
        {
            double error = stream.Prediction[0] - _heldOut[i];
            sum += error * error;
            stream.Prime(_heldOut.AsSpan(i, 1), 1, threads);
        }

        return sum / _heldOut.Length;
    }

    public override string Preview(int length, ThreadTeam? threads)
    {
        float[] all = [.. _train, .. _heldOut];
        float[] next = Rollout(_model.ToInference(), all, Math.Min(length, 12), Mean, Scale, threads);
        return "next values " + string.Join(", ", next.Select(v => v.ToString("G5", CultureInfo.InvariantCulture)));
    }

    private protected override void FillChunk(int start) => Streams.Fill<float>(_train, start, _inputs, _targets);

    private protected override double TrainGroup(int group, int groups, ThreadTeam? threads)
    {
        int steps = Settings.Steps, batch = Settings.Batch;
        float[] inputs = Columns(_inputs, _groupInputs, group, groups, steps, batch), targets = Columns(_targets, _groupTargets, group, groups, steps, batch);
        return _model.ForwardBackward(inputs, steps, batch / groups, targets, threads: threads).Loss;
    }

    private protected override void AddMetadata(Dictionary<string, string> metadata)
    {
        metadata[MeanKey] = Mean.ToString("R", CultureInfo.InvariantCulture);
        metadata[ScaleKey] = Scale.ToString("R", CultureInfo.InvariantCulture);
        metadata[ColumnKey] = _column;
        metadata[TailKey] = JsonSerializer.Serialize(_raw[Math.Max(0, _raw.Length - TailLength)..]);
    }

    private static float[] Rollout(ForecasterInference model, float[] history, int count, double mean, double scale, ThreadTeam? threads)
    {
        ForecastStream stream = model.CreateForecast();
        stream.Prime(history, history.Length, threads);
        var next = new float[count];
        stream.Rollout(next, threads);
        for (int i = 0; i < next.Length; i++)
        {
            next[i] = (float)((next[i] * scale) + mean);
        }

        return next;
    }

    private static double Number(LoadedCheckpoint checkpoint, string key) =>
        double.TryParse(Required(checkpoint, key), NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value) ? value
            : throw new InvalidDataException($"Checkpoint '{checkpoint.Source}' has an invalid '{key}'.");

    private static (float[] Values, string Hash, string Column) Read(string path, string? column)
    {
        if (column is null)
        {
            throw new ArgumentException("--csv needs --column NAME or --column INDEX.");
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No CSV file '{path}'.");
        }

        return (CsvColumn.Read(path, column), HashFile(path), column);
    }

    private static (int Train, int HeldOut) Split(int length)
    {
        int heldOut = length >= 100 ? Math.Min(length / 10, MaxHeldOut) : 0;
        return (length - heldOut, heldOut);
    }
}
