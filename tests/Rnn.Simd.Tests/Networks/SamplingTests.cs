using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Networks;

/// <summary><see cref="TokenSampler"/> and sampled generation: determinism, greedy limits and the drawn distribution.</summary>
[Trait("Category", "Networks")]
public sealed class SamplingTests(ITestOutputHelper output)
{
    private static readonly float[] s_logits = [0.3f, 1.5f, -0.7f, 1.1f, 0f, -2f];

    private static double[] Softmax(ReadOnlySpan<float> logits, double temperature, int topK = 0)
    {
        double[] z = [.. logits.ToArray().Select(v => v / temperature)];
        if (topK > 0)
        {
            double kth = z.OrderDescending().ElementAt(topK - 1);
            z = [.. z.Select(v => v >= kth ? v : double.NegativeInfinity)];
        }

        double max = z.Max(), sum = z.Sum(v => Math.Exp(v - max));
        return [.. z.Select(v => Math.Exp(v - max) / sum)];
    }

    private static int[] Counts(SamplingOptions sampling, int draws)
    {
        var sampler = new TokenSampler(s_logits.Length, sampling);
        var counts = new int[s_logits.Length];
        for (int i = 0; i < draws; i++)
        {
            counts[sampler.Sample(s_logits)]++;
        }

        return counts;
    }

    /// <summary>Pearson's χ² of the counts against the probabilities (cells with p = 0 must be empty).</summary>
    private static double ChiSquare(int[] counts, double[] p, int draws)
    {
        double chi = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            if (p[i] == 0)
            {
                Assert.Equal(0, counts[i]);
                continue;
            }

            double expected = draws * p[i];
            chi += (counts[i] - expected) * (counts[i] - expected) / expected;
        }

        return chi;
    }

    [Theory]
    [InlineData(1.0f, 0, 20.52)]   // χ²(5) at p = 0.999
    [InlineData(0.6f, 0, 20.52)]
    [InlineData(1.0f, 3, 13.82)]   // χ²(2) at p = 0.999
    public void Draws_FollowTheTemperedTopKSoftmax(float temperature, int topK, double critical)
    {
        const int draws = 40_000;
        int[] counts = Counts(new SamplingOptions { Temperature = temperature, TopK = topK, Seed = 17 }, draws);
        double[] p = Softmax(s_logits, temperature, topK);
        double chi = ChiSquare(counts, p, draws);
        output.WriteLine($"T = {temperature}, k = {topK}: counts [{string.Join(", ", counts)}], χ² = {chi:F2}");
        Assert.True(chi < critical, $"χ² = {chi}");

        // The uniform distribution is far off: the test can fail.
        Assert.True(ChiSquare(counts, [.. p.Select(v => v == 0 ? 0 : 1.0 / p.Count(q => q > 0))], draws) > 100);

        var probabilities = new float[s_logits.Length];
        new TokenSampler(s_logits.Length, new SamplingOptions { Temperature = temperature, TopK = topK }).Probabilities(s_logits, probabilities);
        for (int i = 0; i < p.Length; i++)
        {
            Assert.Equal(p[i], probabilities[i], 1e-6);
        }
    }

    [Fact]
    public void TopKOne_AndATemperatureNearZero_AreGreedy()
    {
        int argmax = TokenSampler.ArgMax(s_logits);
        Assert.Equal(1, argmax);
        Assert.Equal(2000, Counts(new SamplingOptions { TopK = 1, Temperature = 3, Seed = 5 }, 2000)[argmax]);
        Assert.Equal(2000, Counts(new SamplingOptions { Temperature = 1e-3f, Seed = 5 }, 2000)[argmax]);
        Assert.Equal(2000, Counts(SamplingOptions.GreedyDecoding, 2000)[argmax]);
        Assert.True(Counts(new SamplingOptions { Temperature = 0.3f, Seed = 5 }, 2000)[argmax] > 1500);
        Assert.Equal(0, TokenSampler.ArgMax([2f, 2f, 1f]));   // ties to the lowest id
    }

    [Fact]
    public void Generation_SameSeedSameTokens_OtherSeedsDiffer_TopKOneEqualsGreedy_ThreadsDoNotMatter()
    {
        var options = new LanguageModelOptions { VocabularySize = 12, EmbeddingSize = 4, Recurrent = new RecurrentNetworkOptions { HiddenSize = 16, Cell = CellType.Gru } };
        using var model = LanguageModel.Create(options);
        Initializers.Apply(model.Parameters, RecurrentInitialization.PyTorch, 3);
        LanguageModelInference inference = model.ToInference();
        int[] Generate(SamplingOptions sampling, ThreadTeam? threads = null)
        {
            TokenGenerator generator = inference.CreateGenerator(sampling);
            generator.Prime([1, 2, 3], threads);
            var tokens = new int[60];
            generator.Generate(tokens, threads);
            return tokens;
        }

        var seeded = new SamplingOptions { Temperature = 1.5f, Seed = 42 };
        int[] first = Generate(seeded);
        Assert.Equal(first, Generate(seeded));
        Assert.Equal(first, Generate(seeded with { }));
        using (var team = new ThreadTeam(2))
        {
            Assert.Equal(first, Generate(seeded, team));
        }

        Assert.NotEqual(first, Generate(seeded with { Seed = 43 }));
        Assert.NotEqual(first, Generate(seeded with { Seed = 0 }));
        int[] greedy = Generate(SamplingOptions.GreedyDecoding);
        Assert.Equal(greedy, Generate(new SamplingOptions { TopK = 1, Temperature = 2, Seed = 9 }));
        Assert.NotEqual(greedy, first);

        // Reset replays the same text.
        TokenGenerator again = inference.CreateGenerator(seeded);
        again.Prime([1, 2, 3]);
        again.Generate(new int[10]);
        again.Reset();
        again.Prime([1, 2, 3]);
        var replay = new int[60];
        again.Generate(replay);
        Assert.Equal(first, replay);
    }

    [Fact]
    public void Validation_NamesTheParameter()
    {
        Assert.Equal("sampling", Assert.ThrowsAny<ArgumentException>(() => new TokenSampler(6, new SamplingOptions { TopK = 7 })).ParamName);
        Assert.Equal("sampling", Assert.ThrowsAny<ArgumentException>(() => new TokenSampler(6, new SamplingOptions { TopK = -1 })).ParamName);
        Assert.Equal("sampling", Assert.ThrowsAny<ArgumentException>(() => new TokenSampler(6, new SamplingOptions { Temperature = float.NaN })).ParamName);
        Assert.Equal("vocabulary", Assert.ThrowsAny<ArgumentException>(() => new TokenSampler(0, SamplingOptions.GreedyDecoding)).ParamName);
        Assert.Equal("logits", Assert.ThrowsAny<ArgumentException>(() => new TokenSampler(6, SamplingOptions.GreedyDecoding).Sample(new float[5])).ParamName);
        Assert.NotNull(new TokenSampler(6, new SamplingOptions { TopK = 6 }));
    }
}
