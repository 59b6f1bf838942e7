using Rnn.Simd.Internal;

namespace Rnn.Simd.Training;

/// <summary>A linear warm-up in front of another schedule.</summary>
/// <remarks>
/// For e &lt; W (<see cref="WarmupEpochs"/>): lr(e) = base_lr · (s + (1 − s) · e / W), s = <see cref="StartFactor"/>,
/// base_lr the inner schedule's, which is PyTorch's <c>LinearLR(start_factor=s, end_factor=1, total_iters=W)</c>
/// closed form; from e = W on: the inner schedule at epoch e − W. That is PyTorch's
/// <c>SequentialLR([LinearLR(…), inner], milestones=[W])</c>.
/// </remarks>
public sealed class LinearWarmup : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="inner">The schedule after the warm-up; its base rate is the rate the warm-up reaches.</param>
    /// <param name="warmupEpochs">W ≥ 1, epochs of warm-up.</param>
    /// <param name="startFactor">s in [0, 1]: the fraction of the base rate at epoch 0 (PyTorch's default 1/3).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of its range or NaN.</exception>
    public LinearWarmup(LearningRateSchedule inner, int warmupEpochs, double startFactor = 1.0 / 3)
        : base((inner ?? throw new ArgumentNullException(nameof(inner))).BaseLearningRate)
    {
        if (warmupEpochs < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(warmupEpochs), $"Must be at least 1, was {warmupEpochs}.");
        }

        if (!(startFactor >= 0 && startFactor <= 1))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(startFactor), $"Must be in [0, 1], was {startFactor}.");
        }

        Inner = inner;
        WarmupEpochs = warmupEpochs;
        StartFactor = startFactor;
    }

    /// <summary>The schedule after the warm-up.</summary>
    public LearningRateSchedule Inner { get; }

    /// <summary>Epochs of warm-up.</summary>
    public int WarmupEpochs { get; }

    /// <summary>The fraction of the base rate at epoch 0.</summary>
    public double StartFactor { get; }

    // LinearLR's closed form: base_lr * (start + (end - start) * min(total_iters, e) / total_iters), end = 1.
    private protected override double Compute(int epoch) => epoch < WarmupEpochs
        ? BaseLearningRate * (StartFactor + ((1.0 - StartFactor) * epoch / WarmupEpochs))
        : Inner.LearningRateAt(epoch - WarmupEpochs);
}
