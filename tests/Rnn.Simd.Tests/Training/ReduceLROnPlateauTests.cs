using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Training;

/// <summary>ReduceLROnPlateau against PyTorch 1.13's on fixed loss sequences (tools/golden/plateau.py prints the rates).</summary>
[Trait("Category", "Training")]
public sealed class ReduceLROnPlateauTests
{
    [Fact]
    public void RelativeThreshold_Cooldown_MinimumAndNaN_MatchPyTorch()
    {
        double[] losses =
        [
            1.0, 0.9, 0.9, 0.89995, 0.91, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, double.NaN,
            0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7,
        ];
        double[] pytorch =
        [
            0.2, 0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.025, 0.025,
            0.0125, 0.0125, 0.0125, 0.0125, 0.01, 0.01, 0.01,
        ];
        var scheduler = new ReduceLROnPlateau(0.2, factor: 0.5, patience: 2, threshold: 1e-4, cooldown: 1, minimumLearningRate: 0.01);
        Assert.Equal(pytorch, losses.Select(l => scheduler.Step(l)).ToArray());
    }

    [Fact]
    public void AbsoluteThreshold_PatienceZero_MatchesPyTorchToTheBit()
    {
        double[] losses = [3.0, 2.96, 2.9, 2.9, 2.0, 1.96, 1.9];
        double[] pytorch = [0.2, 0.020000000000000004, 0.020000000000000004, 0.0020000000000000005, 0.0020000000000000005, 0.00020000000000000006, 0.00020000000000000006];
        var scheduler = new ReduceLROnPlateau(0.2, factor: 0.1, patience: 0, threshold: 0.05, relativeThreshold: false);
        var optimizer = new Sgd(0.2);
        Assert.Equal(pytorch, losses.Select(l => scheduler.Step(l, optimizer)).ToArray());
        Assert.Equal(pytorch[^1], optimizer.LearningRate);
    }

    [Fact]
    public void RestoredState_ContinuesAsTheUninterruptedScheduler()
    {
        double[] losses = [5, 4, 4.5, 4.4, 4.3, 4.2, 4.6, 4.7, 3, 3.1, 3.2, 3.3, 3.4];
        var straight = new ReduceLROnPlateau(1, factor: 0.3, patience: 1, cooldown: 2);
        double[] expected = [.. losses.Select(l => straight.Step(l))];
        for (int cut = 0; cut <= losses.Length; cut++)
        {
            var first = new ReduceLROnPlateau(1, factor: 0.3, patience: 1, cooldown: 2);
            var rates = losses[..cut].Select(l => first.Step(l)).ToList();
            var second = new ReduceLROnPlateau(1, factor: 0.3, patience: 1, cooldown: 2);
            second.Restore(first.LearningRate, first.Best, first.BadEpochs, first.CooldownCounter);
            rates.AddRange(losses[cut..].Select(l => second.Step(l)));
            Assert.Equal(expected, rates);
        }
    }

    [Fact]
    public void BadArguments_AreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReduceLROnPlateau(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReduceLROnPlateau(1, factor: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReduceLROnPlateau(1, factor: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReduceLROnPlateau(1, patience: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReduceLROnPlateau(1, threshold: double.PositiveInfinity));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReduceLROnPlateau(1, cooldown: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReduceLROnPlateau(1).Restore(1, double.NaN, 0, 0));
        Assert.Throws<ArgumentNullException>(() => new ReduceLROnPlateau(1).Step(1, null!));
    }
}
