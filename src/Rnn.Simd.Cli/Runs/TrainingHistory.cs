using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rnn.Simd.Cli.Runs;

/// <summary>One point of a loss curve: after update <paramref name="Update"/>, the loss and the learning rate of that update.</summary>
internal readonly record struct LossPoint(long Update, double Loss, double LearningRate);

/// <summary>
/// What a <c>train</c> run has seen so far, saved in every checkpoint so that a resumed run continues it exactly:
/// the training loss (the mean of each <see cref="Window"/> updates), the held-out losses, the best of them and
/// the measurements since, and the plateau schedule's state.
/// </summary>
internal sealed class TrainingHistory
{
    public const string Key = "train.history";

    /// <summary>Updates per point of the training curve.</summary>
    public const int Window = 10;

    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private double _windowSum, _windowRate;
    private int _windowCount;

    public List<LossPoint> Training { get; } = [];

    public List<LossPoint> HeldOut { get; } = [];

    /// <summary>The best held-out loss measured (+∞ before any).</summary>
    public double BestLoss { get; private set; } = double.PositiveInfinity;

    /// <summary>The update of <see cref="BestLoss"/> (−1 before any).</summary>
    public long BestUpdate { get; private set; } = -1;

    /// <summary>Held-out measurements in a row that did not beat <see cref="BestLoss"/>.</summary>
    public int SinceBest { get; private set; }

    /// <summary>The plateau schedule's state (its rate is NaN until it has one).</summary>
    public PlateauState Plateau { get; set; } = new(double.NaN, double.PositiveInfinity, 0, 0);

    /// <summary>Adds the loss of update <paramref name="update"/>; every <see cref="Window"/> updates a point is added.</summary>
    public void AddTraining(long update, double loss, double learningRate)
    {
        _windowSum += loss;
        _windowCount++;
        _windowRate = learningRate;
        if (update % Window == 0)
        {
            Training.Add(new LossPoint(update, _windowSum / _windowCount, _windowRate));
            _windowSum = 0;
            _windowCount = 0;
        }
    }

    /// <summary>Adds a held-out measurement; true when it is the best so far.</summary>
    public bool AddHeldOut(long update, double loss, double learningRate)
    {
        HeldOut.Add(new LossPoint(update, loss, learningRate));
        if (loss < BestLoss)
        {
            BestLoss = loss;
            BestUpdate = update;
            SinceBest = 0;
            return true;
        }

        SinceBest++;
        return false;
    }

    public string ToJson() => JsonSerializer.Serialize(
        new Saved([.. Training.Select(ToArray)], [.. HeldOut.Select(ToArray)], BestLoss, BestUpdate, SinceBest, _windowSum, _windowCount, _windowRate, Plateau), s_json);

    /// <exception cref="InvalidDataException">The text is not a history this class wrote.</exception>
    public static TrainingHistory FromJson(string json, string source)
    {
        Saved saved;
        try
        {
            saved = JsonSerializer.Deserialize<Saved>(json, s_json) ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Checkpoint '{source}' has a training history that is not valid: {e.Message}");
        }

        if (saved.Training is null || saved.HeldOut is null || saved.Plateau is null || saved.WindowCount is < 0 or >= Window || saved.SinceBest < 0
            || saved.Training.Any(p => p is null || p.Length != 3) || saved.HeldOut.Any(p => p is null || p.Length != 3))
        {
            throw new InvalidDataException($"Checkpoint '{source}' has a training history that is not valid.");
        }

        var history = new TrainingHistory
        {
            BestLoss = saved.BestLoss, BestUpdate = saved.BestUpdate, SinceBest = saved.SinceBest, Plateau = saved.Plateau,
            _windowSum = saved.WindowSum, _windowCount = saved.WindowCount, _windowRate = saved.WindowRate,
        };
        history.Training.AddRange(saved.Training.Select(FromArray));
        history.HeldOut.AddRange(saved.HeldOut.Select(FromArray));
        return history;
    }

    private static double[] ToArray(LossPoint p) => [p.Update, p.Loss, p.LearningRate];

    private static LossPoint FromArray(double[] p) => new((long)p[0], p[1], p[2]);

    /// <summary>ReduceLROnPlateau's state between measurements.</summary>
    internal sealed record PlateauState(double LearningRate, double Best, int BadEpochs, int CooldownCounter);

    private sealed record Saved(
        double[][] Training, double[][] HeldOut, double BestLoss, long BestUpdate, int SinceBest, double WindowSum, int WindowCount, double WindowRate, PlateauState Plateau);
}
