using System.Diagnostics;
using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Networks;

/// <summary><see cref="EncoderDecoder"/>: learning to reverse, teacher forcing and scheduled sampling, decoding, allocation, validation.</summary>
[Trait("Category", "Networks")]
[Collection(NonParallelCollection.Name)]
public sealed class EncoderDecoderTests(ITestOutputHelper output)
{
    private const int Pad = 0, Bos = 1, Eos = 2, Symbols = 8, First = 3;

    private static EncoderDecoderOptions Options(int hidden, CellType cell = CellType.Lstm, int layers = 1) => new()
    {
        SourceVocabularySize = Symbols, TargetVocabularySize = First + Symbols, EmbeddingSize = 16, Recurrent = new RecurrentNetworkOptions { HiddenSize = hidden, Cell = cell, Layers = layers },
        PadToken = Pad, BosToken = Bos, EosToken = Eos,
    };

    /// <summary>A batch of random sequences (lengths in [min, max]) and their reversals followed by EOS, then PAD.</summary>
    private static (int[] Source, int[] Lengths, int[] Target) Batch(TestRandom random, int batch, int min, int max)
    {
        int[] source = new int[max * batch], lengths = new int[batch], target = new int[(max + 1) * batch];
        for (int b = 0; b < batch; b++)
        {
            int length = min + random.Next(max - min + 1);
            lengths[b] = length;
            for (int t = 0; t < length; t++)
            {
                source[(t * batch) + b] = random.Next(Symbols);
            }

            for (int t = 0; t <= max; t++)
            {
                target[(t * batch) + b] = t < length ? First + source[((length - 1 - t) * batch) + b] : t == length ? Eos : Pad;
            }
        }

        return (source, lengths, target);
    }

    [Fact]
    public void LearnsToReverseRandomSequences_ToHighExactMatchAccuracy()
    {
        const int batch = 32, min = 3, max = 5;
        using var model = EncoderDecoder.Create(Options(32));
        Initializers.Apply(model.Parameters, RecurrentInitialization.PyTorch, 11);
        var trainer = new Trainer(model.Parameters, new Adam(0.02), new TrainerOptions { MaxGradientNorm = 5 });
        var random = new TestRandom(1);
        var watch = Stopwatch.StartNew();
        double loss = double.NaN;
        int updates = 0;
        for (; updates < 600 && !(loss < 0.02); updates++)
        {
            (int[] source, int[] lengths, int[] target) = Batch(random, batch, min, max);
            loss = model.ForwardBackward(source, max, target, max + 1, batch, lengths).Loss;
            trainer.Update();
        }

        output.WriteLine($"loss {loss:F4} after {updates} updates in {watch.ElapsedMilliseconds} ms");

        SequenceDecoder decoder = model.ToInference().CreateDecoder();
        var test = new TestRandom(99);
        var decoded = new int[max + 3];
        int exact = 0;
        const int trials = 200;
        for (int i = 0; i < trials; i++)
        {
            int length = min + test.Next(max - min + 1);
            int[] source = ModelReference.Tokens(test, length, 0, Symbols);
            int count = decoder.Decode(source, decoded);
            exact += count == length && source.Reverse().Select(s => s + First).SequenceEqual(decoded.Take(count)) ? 1 : 0;
        }

        output.WriteLine($"exact match {exact}/{trials}");
        Assert.True(exact >= 0.9 * trials, $"exact match {exact}/{trials}");
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.0)]
    [InlineData(0.5)]
    public void TeacherForcingRatio_FeedsTheTrueOrTheOwnArgmaxToken_AsAStepByStepRunShows(double ratio)
    {
        const int batch = 3, sourceSteps = 4, targetSteps = 5;
        const ulong seed = 6;
        using var model = EncoderDecoder.Create(Options(8, CellType.Gru, layers: 2));
        Initializers.Apply(model.Parameters, RecurrentInitialization.PyTorch, 2);
        (int[] source, int[] lengths, int[] target) = Batch(new TestRandom(3), batch, 2, sourceSteps);
        Assert.Equal(targetSteps * batch, target.Length);
        double loss = model.ForwardBackward(source, sourceSteps, target, targetSteps, batch, lengths, ratio, seed).Loss;

        // By hand on the inference parts: encode, then decode step by step, choosing each input as the ratio says.
        EncoderDecoderInference m = model.ToInference();
        int e = 16, v = First + Symbols;
        var xs = new float[source.Length * e];
        m.SourceEmbedding.Lookup(source, xs);
        RecurrentState state = m.Decoder.CreateState(batch);
        m.Encoder.Forward(xs, sourceSteps, batch, new float[sourceSteps * batch * 8], hN: state.Hidden, lengths: lengths);
        var logits = new float[targetSteps * batch * v];
        var inputs = new int[batch];
        Array.Fill(inputs, Bos);
        var x = new float[batch * e];
        var y = new float[batch * 8];
        for (int t = 0; t < targetSteps; t++)
        {
            m.TargetEmbedding.Lookup(inputs, x);
            m.Decoder.Step(state, x, y);
            Span<float> stepLogits = logits.AsSpan(t * batch * v, batch * v);
            m.Head.Forward(y, batch, stepLogits);
            bool forced = TrainableJordanNetwork.IsTeacherForced(ratio, seed, t + 1);
            for (int b = 0; b < batch; b++)
            {
                int truth = target[(t * batch) + b];
                inputs[b] = forced ? truth : TokenSampler.ArgMax(stepLogits.Slice(b * v, v));
            }
        }

        int[] counted = [.. target.Select(t => t == Pad ? Losses.DefaultIgnoreIndex : t)];
        double expected = Losses.SoftmaxCrossEntropy(logits, targetSteps * batch, v, counted, new float[logits.Length]);
        output.WriteLine($"ratio {ratio}: loss {loss:R}, by hand {expected:R}");
        Assert.Equal(expected, loss, 1e-6);
        if (ratio < 1)
        {
            Assert.NotEqual(model.ForwardBackward(source, sourceSteps, target, targetSteps, batch, lengths).Loss, loss, 1e-6);
        }
    }

    [Fact]
    public void TrainingAndDecoding_AllocateNothingAfterWarmUp_AndDecodingStopsAtTheMaximumLength()
    {
        const int batch = 4;
        using var model = EncoderDecoder.Create(Options(8));
        Initializers.Apply(model.Parameters, RecurrentInitialization.PyTorch, 5);
        (int[] source, int[] lengths, int[] target) = Batch(new TestRandom(2), batch, 2, 4);
        AllocationAssert.None(() =>
        {
            model.ForwardBackward(source, 4, target, 5, batch, lengths, teacherForcingRatio: 0.5, seed: 3);
            model.Parameters.ZeroGradients();
        });

        EncoderDecoderInference inference = model.ToInference();
        SequenceDecoder decoder = inference.CreateDecoder(new SamplingOptions { Temperature = 0.9f, Seed = 8 });
        var decoded = new int[6];
        int[] sourceOne = [1, 2, 3];
        AllocationAssert.None(() => decoder.Decode(sourceOne, decoded));
        int count = decoder.Decode(sourceOne, decoded);
        var again = new int[6];
        Assert.Equal(count, decoder.Decode(sourceOne, again));
        Assert.Equal(decoded, again);
        Assert.InRange(decoder.Decode(sourceOne, decoded.AsSpan(0, 2)), 0, 2);
        Assert.Equal(0, decoder.Decode(sourceOne, []));
    }

    [Fact]
    public void Validation_NamesTheParameter()
    {
        using var model = EncoderDecoder.Create(Options(4));
        int[] source = [0, 1, 2, 3], target = [3, 4, 2, 0];
        Assert.Equal("source", Assert.ThrowsAny<ArgumentException>(() => model.ForwardBackward([0, 1, 2, 8], 2, target, 2, 2).Loss).ParamName);
        Assert.Equal("source", Assert.ThrowsAny<ArgumentException>(() => model.ForwardBackward(source, 3, target, 2, 2).Loss).ParamName);
        Assert.Equal("target", Assert.ThrowsAny<ArgumentException>(() => model.ForwardBackward(source, 2, [3, 4, 11, 0], 2, 2).Loss).ParamName);
        Assert.Equal("lengths", Assert.ThrowsAny<ArgumentException>(() => model.ForwardBackward(source, 2, target, 2, 2, [1, 3]).Loss).ParamName);
        Assert.Equal("teacherForcingRatio", Assert.ThrowsAny<ArgumentException>(() => model.ForwardBackward(source, 2, target, 2, 2, teacherForcingRatio: 1.5).Loss).ParamName);
        Assert.Equal("teacherForcingRatio", Assert.ThrowsAny<ArgumentException>(() => model.ForwardBackward(source, 2, target, 2, 2, teacherForcingRatio: double.NaN).Loss).ParamName);
        SequenceDecoder decoder = model.ToInference().CreateDecoder();
        Assert.Equal("source", Assert.ThrowsAny<ArgumentException>(() => decoder.Decode([], new int[3])).ParamName);
        Assert.Equal("source", Assert.ThrowsAny<ArgumentException>(() => decoder.Decode([9], new int[3])).ParamName);
        Assert.Equal("sampling", Assert.ThrowsAny<ArgumentException>(() => model.ToInference().CreateDecoder(new SamplingOptions { TopK = 12 })).ParamName);
    }
}
