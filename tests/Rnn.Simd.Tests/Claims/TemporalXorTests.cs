using Rnn.Simd.Cli.Demo;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Claims;

/// <summary>
/// Elman (1990), "Finding structure in time", the temporal XOR: trained to predict the next bit of a stream in which
/// every third bit is the XOR of the two before, a simple recurrent network predicts the XOR bits well and the random
/// bits no better than chance (squared error ≈ 0.25).
/// </summary>
/// <remarks>
/// Elman used 1 input, 2 hidden and 1 output sigmoid units and 600 passes over a 3000-bit stream with his one-step
/// rule. Here: sigmoid hidden units (16), a sigmoid output, MSE, Adam with global-norm clipping 1, 32 independent
/// streams carried across updates. The error is measured on 32 fresh streams of 3000 steps run from the zero state.
/// </remarks>
[Trait("Category", "Claims")]
public sealed class TemporalXorTests(ITestOutputHelper output)
{
    /// <summary>Truncated BPTT over windows of 6 steps (two triples): the XOR bits are learned.</summary>
    [Fact]
    public void ElmanNetwork_PredictsTheXorBits_AndNotTheRandomOnes()
    {
        var config = new TemporalXor.Config { Hidden = 16, Window = 6, Batch = 32, Updates = 2000, LearningRate = 1e-2, TestSteps = 3000, Seed = 1 };
        TemporalXor.Result r = TemporalXor.Run(config);
        Report(config, r);
        Assert.True(r.PredictableMse < 0.05, $"The XOR bits should be learned: MSE {r.PredictableMse:F4}.");
        Assert.True(r.RandomMse > 0.15, $"The random bits cannot be predicted: MSE {r.RandomMse:F4}.");
    }

    /// <summary>
    /// Elman's own rule, TBPTT(k1 = k2 = 1): the previous hidden state is a constant context input. It lowers the error on
    /// the XOR bits clearly below that on the random bits, but (as in Elman's figure) not to zero.
    /// </summary>
    [Fact]
    public void ElmansOneStepRule_LowersTheErrorOnTheXorBits()
    {
        var config = new TemporalXor.Config { Hidden = 16, Window = 1, Batch = 32, Updates = 6000, LearningRate = 1e-2, TestSteps = 3000, Seed = 1 };
        TemporalXor.Result r = TemporalXor.Run(config);
        Report(config, r);
        Assert.True(r.PredictableMse < 0.15, $"Elman's rule should lower the error on the XOR bits: MSE {r.PredictableMse:F4}.");
        Assert.True(r.RandomMse > 0.2, $"The random bits cannot be predicted: MSE {r.RandomMse:F4}.");
    }

    private void Report(TemporalXor.Config c, TemporalXor.Result r) =>
        output.WriteLine(
            $"Elman (sigmoid, H = {c.Hidden}), TBPTT({c.Window}, {c.Window}), Adam lr {c.LearningRate}, clip {c.MaxGradientNorm}, " +
            $"{c.Batch} streams × {c.Updates} updates ({c.Updates * c.Window} bits each), seed {c.Seed}: " +
            $"MSE on the XOR bits {r.PredictableMse:F4}, on the random bits {r.RandomMse:F4} " +
            $"(fresh {c.Batch} × {c.TestSteps}-bit streams); weights {r.Weights}; {r.Seconds:F2} s");
}
