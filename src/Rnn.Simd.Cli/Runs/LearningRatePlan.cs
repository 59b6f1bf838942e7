using Rnn.Simd.Training;

namespace Rnn.Simd.Cli.Runs;

/// <summary>
/// The learning rate of each update of a <c>train</c> run: a linear warm-up (update u &lt; W: lr · (u + 1) / W), then
/// constant, cosine (PyTorch's CosineAnnealingLR over the updates left after the warm-up, held at its minimum past
/// the end) or plateau (ReduceLROnPlateau on the held-out losses, its state kept in the <see cref="TrainingHistory"/>).
/// Every rate depends only on the settings, the update count and the history, so a resumed run gets the same rates.
/// </summary>
internal sealed class LearningRatePlan
{
    private readonly TrainSettings _settings;
    private readonly TrainingHistory _history;
    private readonly CosineAnnealingLR? _cosine;
    private readonly ReduceLROnPlateau? _plateau;

    public LearningRatePlan(TrainSettings settings, TrainingHistory history)
    {
        _settings = settings;
        _history = history;
        if (settings.Schedule == "cosine")
        {
            long total = settings.ScheduleUpdates > 0 ? settings.ScheduleUpdates : settings.Updates;
            _cosine = new CosineAnnealingLR(settings.LearningRate, CosinePeriod(total - settings.Warmup), settings.MinLearningRate);
        }
        else if (settings.Schedule == "plateau")
        {
            _plateau = new ReduceLROnPlateau(settings.LearningRate, settings.PlateauFactor, settings.PlateauPatience, minimumLearningRate: settings.MinLearningRate);
            TrainingHistory.PlateauState s = history.Plateau;
            if (!double.IsNaN(s.LearningRate))
            {
                try
                {
                    _plateau.Restore(s.LearningRate, s.Best, s.BadEpochs, s.CooldownCounter);
                }
                catch (ArgumentException e)
                {
                    throw new InvalidDataException($"The checkpoint's plateau schedule state is not valid: {e.Message}");
                }
            }
        }
    }

    /// <summary>The rate of the update that follows <paramref name="done"/> updates.</summary>
    public double RateFor(long done)
    {
        double rate = _settings.LearningRate;
        if (done < _settings.Warmup)
        {
            return rate * (done + 1) / _settings.Warmup;
        }

        long after = done - _settings.Warmup;
        return _cosine is not null ? _cosine.LearningRateAt((int)Math.Min(after, _cosine.Period))
            : _plateau is not null ? _plateau.LearningRate
            : rate;
    }

    /// <summary>Takes a held-out measurement (the plateau schedule watches them).</summary>
    public void Measured(double heldOut)
    {
        if (_plateau is not null)
        {
            _plateau.Step(heldOut);
            _history.Plateau = new TrainingHistory.PlateauState(_plateau.LearningRate, _plateau.Best, _plateau.BadEpochs, _plateau.CooldownCounter);
        }
    }

    private static int CosinePeriod(long updates) => (int)Math.Clamp(updates, 1, int.MaxValue);
}
