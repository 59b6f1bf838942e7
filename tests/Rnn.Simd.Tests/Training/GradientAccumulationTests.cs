using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Training;

/// <summary>
/// Gradient accumulation: K micro-batches of B sequences through ForwardBackward, then <see cref="Trainer.Update(float)"/>
/// with 1/K, against one ForwardBackward of the K·B batch and <see cref="Trainer.Update()"/>.
/// </summary>
[Trait("Category", "Training")]
[Trait("Isa", "All")]
[Collection(NonParallelCollection.Name)]   // the zero-allocation measurement: a busy machine tiers code up late, on this thread
public sealed class GradientAccumulationTests(ITestOutputHelper output)
{
    private const int Steps = 5, Features = 3, Classes = 4, MicroBatch = 2, MicroBatches = 4, Batch = MicroBatch * MicroBatches;

    private static readonly SequenceTaggerOptions s_options = new()
    {
        InputSize = Features,
        Classes = Classes,
        Recurrent = new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = Features, HiddenSize = 5, Layers = 2, Bidirectional = true },
    };

    [Fact]
    public void AccumulatedMicroBatches_GiveTheBigBatchsGradientAndUpdate()
    {
        (float[] x, int[] labels) = Data();
        using SequenceTagger big = SequenceTagger.Create(s_options, seed: 3);
        using SequenceTagger small = SequenceTagger.Create(s_options, seed: 3);

        double bigLoss = big.ForwardBackward(x, Steps, Batch, labels).Loss;
        float[] bigGradient = big.Parameters.Gradients.ToArray();
        new Trainer(big.Parameters, new Sgd(0.5)).Update();

        double meanOfLosses = Accumulate(small, x, labels, threads: null) / MicroBatches;
        var scaled = new float[small.Parameters.Length];
        small.Parameters.Gradients.CopyTo(scaled);
        for (int i = 0; i < scaled.Length; i++)
        {
            scaled[i] *= 1f / MicroBatches;   // what Update(1/K) applies: exact, K is a power of two
        }

        new Trainer(small.Parameters, new Sgd(0.5)).Update(1f / MicroBatches);

        output.WriteLine($"loss: big batch {bigLoss:R}, mean of the micro-batches' {meanOfLosses:R}");
        Assert.Equal(bigLoss, meanOfLosses, 1e-6);
        double scale = bigGradient.Max(g => Math.Abs(g)), worst = 0;
        for (int i = 0; i < scaled.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(scaled[i] - bigGradient[i]));
        }

        output.WriteLine($"gradient: max |accumulated − big| {worst:E2} (max |g| {scale:E2})");
        Assert.True(scale > 1e-3, "The gradient is too small for the comparison to mean anything.");
        Assert.True(worst <= 1e-6 * Math.Max(1, scale), $"Accumulated gradient differs from the big batch's by {worst:E3}.");

        float[] a = big.Parameters.Values.ToArray(), b = small.Parameters.Values.ToArray();
        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(Math.Abs(a[i] - b[i]) <= 1e-6, $"Weight {i}: big batch {a[i]}, accumulated {b[i]}.");
        }

        Assert.All(small.Parameters.Gradients.ToArray(), g => Assert.Equal(0f, g));
    }

    [Fact]
    public void Accumulation_IsTheSameBits_WithAndWithoutThreads()
    {
        (float[] x, int[] labels) = Data();
        using SequenceTagger alone = SequenceTagger.Create(s_options, seed: 4);
        using SequenceTagger shared = SequenceTagger.Create(s_options, seed: 4);
        using var team = new ThreadTeam(2);
        for (int update = 0; update < 2; update++)
        {
            Accumulate(alone, x, labels, threads: null);
            Accumulate(shared, x, labels, team);
            Assert.Equal(alone.Parameters.Gradients.ToArray(), shared.Parameters.Gradients.ToArray());
            new Trainer(alone.Parameters, new Sgd(0.5)).Update(1f / MicroBatches);
            new Trainer(shared.Parameters, new Sgd(0.5)).Update(1f / MicroBatches);
        }

        Assert.Equal(alone.Parameters.Values.ToArray(), shared.Parameters.Values.ToArray());
    }

    [Fact]
    public void UpdateWithAScale_IsUpdateOfTheScaledGradients_AndRefusesABadScale()
    {
        using SequenceTagger a = SequenceTagger.Create(s_options, seed: 5);
        using SequenceTagger b = SequenceTagger.Create(s_options, seed: 5);
        var random = new TestRandom(8);
        float[] gradient = random.Array(a.Parameters.Length);
        gradient.CopyTo(a.Parameters.Gradients);
        for (int i = 0; i < gradient.Length; i++)
        {
            b.Parameters.Gradients[i] = gradient[i] * 0.375f;
        }

        var options = new TrainerOptions { MaxGradientNorm = 0.5 };
        UpdateResult scaled = new Trainer(a.Parameters, new Sgd(0.1), options).Update(0.375f);
        UpdateResult plain = new Trainer(b.Parameters, new Sgd(0.1), options).Update();
        Assert.Equal(plain.GradientNorm, scaled.GradientNorm);
        Assert.Equal(b.Parameters.Values.ToArray(), a.Parameters.Values.ToArray());

        var trainer = new Trainer(a.Parameters, new Sgd(0.1));
        foreach (float bad in new[] { 0f, -1f, float.NaN, float.PositiveInfinity })
        {
            Assert.Equal("gradientScale", Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Update(bad)).ParamName);
        }
    }

    [Fact]
    public void AccumulatingSteps_AllocateNothing()
    {
        (float[] x, int[] labels) = Data();
        using SequenceTagger tagger = SequenceTagger.Create(s_options, seed: 6);
        var trainer = new Trainer(tagger.Parameters, new Sgd(0.1));
        float[] microX = new float[Steps * MicroBatch * Features];
        int[] microLabels = new int[Steps * MicroBatch];
        Slice(x, labels, 0, microX, microLabels);
        tagger.ForwardBackward(microX, Steps, MicroBatch, microLabels);
        trainer.Update(0.5f);
        AllocationAssert.None(() =>
        {
            tagger.ForwardBackward(microX, Steps, MicroBatch, microLabels);
            tagger.ForwardBackward(microX, Steps, MicroBatch, microLabels);
            trainer.Update(0.5f);
        });
    }

    /// <summary>K ForwardBackward calls over the micro-batches (sequences kB … kB + B − 1); returns the sum of their losses.</summary>
    private static double Accumulate(SequenceTagger tagger, float[] x, int[] labels, ThreadTeam? threads)
    {
        float[] microX = new float[Steps * MicroBatch * Features];
        int[] microLabels = new int[Steps * MicroBatch];
        double sum = 0;
        for (int k = 0; k < MicroBatches; k++)
        {
            Slice(x, labels, k, microX, microLabels);
            sum += tagger.ForwardBackward(microX, Steps, MicroBatch, microLabels, threads: threads).Loss;
        }

        return sum;
    }

    /// <summary>Micro-batch k of the time-major batch: x [T, B, X] → [T, B_micro, X], labels [T, B] → [T, B_micro].</summary>
    private static void Slice(float[] x, int[] labels, int k, float[] microX, int[] microLabels)
    {
        for (int t = 0; t < Steps; t++)
        {
            for (int b = 0; b < MicroBatch; b++)
            {
                int from = (t * Batch) + (k * MicroBatch) + b, to = (t * MicroBatch) + b;
                x.AsSpan(from * Features, Features).CopyTo(microX.AsSpan(to * Features, Features));
                microLabels[to] = labels[from];
            }
        }
    }

    private static (float[] X, int[] Labels) Data()
    {
        var random = new TestRandom(21);
        float[] x = random.Array(Steps * Batch * Features);
        int[] labels = [.. Enumerable.Range(0, Steps * Batch).Select(i => (i * 7 / 3) % Classes)];
        return (x, labels);
    }
}
