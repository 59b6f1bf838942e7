using System.Security.Cryptography;
using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Training;

[Trait("Category", "Training")]
public sealed class InitializerTests(ITestOutputHelper output)
{
    /// <summary>
    /// SHA-256 of every scheme applied to <see cref="Stack"/> with seed 2024. Change it only with a deliberate change
    /// of the generator or an initialiser, and say so in the commit: seeded runs of every user move with it.
    /// </summary>
    private const string InitializationHash = "40B4CEAA0992ACAAB78A44169A5818B7D11159AE3D8AF93295BFDE65EFDC30A9";

    private static readonly RecurrentInitialization[] s_schemes =
    [
        RecurrentInitialization.PyTorch,
        RecurrentInitialization.Orthogonal,
        RecurrentInitialization.IdentityRelu(0.5),
        new() { InputWeights = WeightInitialization.XavierNormal, RecurrentWeights = WeightInitialization.XavierUniform, ProjectionWeights = WeightInitialization.Orthogonal, DenseWeights = WeightInitialization.XavierNormal, Gain = 1.5 },
    ];

    [Fact]
    public void Xoshiro256StarStar_MatchesTheReferenceOutputs()
    {
        // State {1, 2, 3, 4}: the outputs of Blackman and Vigna's reference code (also rand_xoshiro's test vector).
        var random = new DeterministicRandom(1, 2, 3, 4);
        ulong[] expected = [11520, 0, 1509978240, 1215971899390074240, 1216172134540287360, 607988272756665600,
            16172922978634559625, 8476171486693032832, 10595114339597558777, 2904607092377533576];
        Assert.Equal(expected, Enumerable.Range(0, expected.Length).Select(_ => random.NextUInt64()));
    }

    [Fact]
    public void SplitMix64_MatchesItsReferenceOutputs()
    {
        // Vigna's splitmix64.c from state 0; the same as the tests' TestRandom(0).
        ulong state = 0;
        var reference = new TestRandom(0);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(reference.NextUInt64(), DeterministicRandom.SplitMix64(ref state));
        }

        state = 0;
        Assert.Equal(0xE220A8397B1DCDAFUL, DeterministicRandom.SplitMix64(ref state));
    }

    [Fact]
    [Trait("Category", "Training")]
    [Trait("Isa", "All")]
    public void EveryScheme_HashesToTheCommittedConstant()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (RecurrentInitialization scheme in s_schemes)
        {
            foreach (ParameterSet set in new[] { Stack(CellType.Lstm, projection: 3), Stack(CellType.Gru), Stack(CellType.Rnn) })
            {
                Initializers.Apply(set, scheme, 2024);
                BitHash.Append(hash, set.Values);
            }
        }

        var random = new DeterministicRandom(7);
        float[] draws = [.. Enumerable.Range(0, 1000).Select(i => i % 2 == 0 ? random.NextSingle() : (float)random.NextNormal())];
        BitHash.Append(hash, draws);
        string actual = Convert.ToHexString(hash.GetHashAndReset());
        Assert.True(InitializationHash == actual, $"Initialisation hash {actual}, expected {InitializationHash}.");
    }

    [Fact]
    public void SameSeed_SameBits_OtherSeed_OtherBits_AndTensorsAreIndependent()
    {
        foreach (RecurrentInitialization scheme in s_schemes)
        {
            ParameterSet a = Stack(CellType.Lstm, projection: 3), b = Stack(CellType.Lstm, projection: 3), c = Stack(CellType.Lstm, projection: 3);
            Initializers.Apply(a, scheme, 11);
            Initializers.Apply(b, scheme, 11);
            Initializers.Apply(c, scheme, 12);
            Assert.Equal(a.Values.ToArray(), b.Values.ToArray());
            foreach (ParameterTensor t in a.Tensors)
            {
                bool random = !(t.Role is ParameterRole.InputBias or ParameterRole.RecurrentBias or ParameterRole.DenseBias && scheme.Biases == BiasInitialization.Zero) &&
                    !(t.Role == ParameterRole.RecurrentWeight && scheme.RecurrentWeights == WeightInitialization.Identity);
                if (random)
                {
                    Assert.False(a.Value(t).SequenceEqual(c.Value(c[t.Name])), $"{t} is the same under seeds 11 and 12.");
                }
            }
        }

        // Each tensor draws from its own stream: a set without the second layer, the dense layer first and no
        // dense bias gets the same values for the tensors both have.
        var options = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 6, HiddenSize = 5, Bidirectional = true };
        ParameterSet small = ParameterSet.Create([Dense("head.", 4, 10)[0], .. options.ParameterSpecs("rnn.")]);
        ParameterSet large = Stack(CellType.Lstm);
        Initializers.Apply(small, RecurrentInitialization.Orthogonal, 3);
        Initializers.Apply(large, RecurrentInitialization.Orthogonal, 3);
        foreach (ParameterTensor t in small.Tensors)
        {
            Assert.True(small.Value(t).SequenceEqual(large.Value(t.Name)), t.Name);
        }
    }

    [Fact]
    public void PyTorchDefault_IsUniformWithinOneOverRootH_WithTheRightMoments()
    {
        const int hidden = 96, input = 80;
        var options = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = input, HiddenSize = hidden, ProjectionSize = 40 };
        ParameterSet set = ParameterSet.Create([.. options.ParameterSpecs(), .. Dense("fc.", 10, 40)]);
        long version = set.Version;
        Initializers.Apply(set, RecurrentInitialization.PyTorch, 5);
        Assert.Equal(version + 1, set.Version);
        foreach (ParameterTensor t in set.Tensors)
        {
            int fanIn = t.Role is ParameterRole.DenseWeight or ParameterRole.DenseBias ? 40 : hidden;
            AssertUniform(set.Value(t), 1 / Math.Sqrt(fanIn), t.ToString());
        }
    }

    [Fact]
    public void Xavier_UsesTheFansOfOneGateBlock()
    {
        const int hidden = 64, input = 48;
        var options = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = input, HiddenSize = hidden };
        ParameterSet set = ParameterSet.Create(options.ParameterSpecs());
        Initializers.Apply(set, new RecurrentInitialization { InputWeights = WeightInitialization.XavierUniform, RecurrentWeights = WeightInitialization.XavierNormal, Gain = 2 }, 6);
        AssertUniform(set.Value("weight_ih_l0"), 2 * Math.Sqrt(6.0 / (hidden + input)), "weight_ih");

        Span<float> w = set.Value("weight_hh_l0");
        for (int block = 0; block < 4; block++)
        {
            double std = 2 * Math.Sqrt(2.0 / (hidden + hidden));
            (double mean, double variance) = Moments(w.Slice(block * hidden * hidden, hidden * hidden));
            Assert.True(Math.Abs(mean) < 5 * std / hidden, $"block {block}: mean {mean}");
            Assert.True(Math.Abs((variance / (std * std)) - 1) < 0.05, $"block {block}: variance {variance}, expected {std * std}");
        }
    }

    [Theory]
    [InlineData(CellType.Lstm, 0)]
    [InlineData(CellType.Lstm, 9)]
    [InlineData(CellType.Gru, 0)]
    [InlineData(CellType.Rnn, 0)]
    public void Orthogonal_MakesEveryRecurrentGateBlockOrthogonal(CellType cell, int projection)
    {
        const int hidden = 24;
        var options = new RecurrentNetworkOptions { Cell = cell, InputSize = 10, HiddenSize = hidden, ProjectionSize = projection, Layers = 2, Bidirectional = true };
        ParameterSet set = ParameterSet.Create(options.ParameterSpecs());
        Initializers.Apply(set, RecurrentInitialization.Orthogonal with { ProjectionWeights = WeightInitialization.Orthogonal, Gain = 1 }, 8);
        int hOut = options.OutputSize;
        foreach (ParameterTensor t in set.Tensors.Where(t => t.Role == ParameterRole.RecurrentWeight))
        {
            for (int block = 0; block < t.Spec.GateBlocks; block++)
            {
                // [H, Hout] with H ≥ Hout: orthonormal columns, WᵀW = I.
                AssertOrthonormal(set.Value(t).Slice(block * hidden * hOut, hidden * hOut), hidden, hOut, columns: true, $"{t} block {block}");
            }
        }

        foreach (ParameterTensor t in set.Tensors.Where(t => t.Role == ParameterRole.ProjectionWeight))
        {
            AssertOrthonormal(set.Value(t), projection, hidden, columns: false, t.ToString());   // [P, H], P < H: WWᵀ = I
        }

        foreach (ParameterTensor t in set.Tensors.Where(t => t.Role is ParameterRole.InputBias or ParameterRole.RecurrentBias))
        {
            int h = hidden;
            float[] expected = new float[t.Length];
            if (cell == CellType.Lstm && t.Role == ParameterRole.InputBias)
            {
                expected.AsSpan(h, h).Fill(1f);
            }

            Assert.Equal(expected, set.Value(t).ToArray());
        }
    }

    [Fact]
    public void Orthogonal_IsScaledByTheGain_AndHaarDistributed()
    {
        var random = new DeterministicRandom(9);
        var m = new float[3 * 3];
        double sumFirst = 0, sumFirstSquared = 0, sumDeterminant = 0;
        const int draws = 4000;
        for (int i = 0; i < draws; i++)
        {
            Initializers.Orthogonal(m, 3, 3, 1.0, random);
            sumFirst += m[0];
            sumFirstSquared += m[0] * m[0];
            sumDeterminant += (m[0] * ((m[4] * m[8]) - (m[5] * m[7]))) - (m[1] * ((m[3] * m[8]) - (m[5] * m[6]))) + (m[2] * ((m[3] * m[7]) - (m[4] * m[6])));
        }

        // Haar on O(3): every entry has mean 0 and variance 1/3, and det = ±1 equally often. Without the sign
        // correction of QR (Householder's raw Q) the diagonal would be biased.
        Assert.True(Math.Abs(sumFirst / draws) < 0.03, $"mean of W[0,0] {sumFirst / draws}");
        Assert.True(Math.Abs((sumFirstSquared / draws) - (1.0 / 3)) < 0.03, $"mean of W[0,0]² {sumFirstSquared / draws}");
        Assert.True(Math.Abs(sumDeterminant / draws) < 0.06, $"mean determinant {sumDeterminant / draws}");

        var w = new float[5 * 3];
        Initializers.Orthogonal(w, 5, 3, 2.5, new DeterministicRandom(10));
        for (int i = 0; i < w.Length; i++)
        {
            w[i] /= 2.5f;
        }

        AssertOrthonormal(w, 5, 3, columns: true, "gain 2.5");
    }

    [Fact]
    public void IdentityRelu_IsExactlyScaleTimesI_WithZeroBiases()
    {
        const int hidden = 13;
        var options = new RecurrentNetworkOptions { Cell = CellType.Rnn, Nonlinearity = Nonlinearity.Relu, InputSize = 4, HiddenSize = hidden, Layers = 2 };
        ParameterSet set = ParameterSet.Create(options.ParameterSpecs());
        set.Values.Fill(float.NaN);
        Initializers.Apply(set, RecurrentInitialization.IdentityRelu(0.75), 1);
        foreach (ParameterTensor t in set.Tensors)
        {
            Span<float> v = set.Value(t);
            switch (t.Role)
            {
                case ParameterRole.RecurrentWeight:
                    for (int r = 0; r < hidden; r++)
                    {
                        for (int c = 0; c < hidden; c++)
                        {
                            Assert.Equal(r == c ? 0.75f : 0f, v[(r * hidden) + c]);
                        }
                    }

                    break;
                case ParameterRole.InputBias or ParameterRole.RecurrentBias:
                    Assert.All(v.ToArray(), x => Assert.Equal(0f, x));
                    break;
                default:
                    AssertUniform(v, 1 / Math.Sqrt(hidden), t.ToString(), moments: false);
                    break;
            }
        }
    }

    [Fact]
    public void LstmForgetBias_SetsTheFBlockOfBiasIh_AndZeroesItInBiasHh_LeavingTheOtherGates()
    {
        const int hidden = 6;
        var options = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 3, HiddenSize = hidden, Bidirectional = true };
        ParameterSet plain = ParameterSet.Create(options.ParameterSpecs()), forget = ParameterSet.Create(options.ParameterSpecs());
        Initializers.Apply(plain, RecurrentInitialization.PyTorch, 4);
        Initializers.Apply(forget, RecurrentInitialization.PyTorch with { LstmForgetGateBias = 2.5 }, 4);
        foreach (ParameterTensor t in forget.Tensors)
        {
            float[] actual = forget.Value(t).ToArray(), before = plain.Value(t.Name).ToArray();
            if (t.Role is ParameterRole.InputBias or ParameterRole.RecurrentBias)
            {
                // PyTorch's gate order i, f, g, o: f is rows H … 2H−1.
                float f = t.Role == ParameterRole.InputBias ? 2.5f : 0f;
                for (int i = 0; i < actual.Length; i++)
                {
                    Assert.Equal(i >= hidden && i < 2 * hidden ? f : before[i], actual[i]);
                }
            }
            else
            {
                Assert.Equal(before, actual);
            }
        }
    }

    [Fact]
    public void BadSchemesAndShapes_Throw_NamingTheParameter()
    {
        ParameterSet set = Stack(CellType.Lstm);
        Assert.Equal("set", Assert.Throws<ArgumentNullException>(() => Initializers.Apply(null!, RecurrentInitialization.PyTorch, 1)).ParamName);
        Assert.Equal("scheme", Assert.Throws<ArgumentNullException>(() => Initializers.Apply(set, null!, 1)).ParamName);
        foreach (RecurrentInitialization bad in new RecurrentInitialization[]
        {
            new() { Gain = 0 },
            new() { Gain = double.NaN },
            new() { IdentityScale = double.PositiveInfinity },
            new() { LstmForgetGateBias = double.NaN },
            new() { RecurrentWeights = (WeightInitialization)42 },
            new() { Biases = (BiasInitialization)(-1) },
        })
        {
            Assert.Equal("scheme", Assert.Throws<ArgumentOutOfRangeException>(() => Initializers.Apply(set, bad, 1)).ParamName);
        }

        ParameterSet[] badSets =
        [
            ParameterSet.Create([new ParameterSpec("head.bias", [4], ParameterRole.DenseBias)]),                                   // no weight
            ParameterSet.Create([new ParameterSpec("w", [4, 3, 2], ParameterRole.InputWeight)]),                                    // 3-D weight
            ParameterSet.Create([new ParameterSpec("b", [4, 3], ParameterRole.RecurrentBias)]),                                     // 2-D bias
            ParameterSet.Create([new ParameterSpec("w", [10, 3], ParameterRole.RecurrentWeight, GateBlocks: 4, Cell: CellType.Lstm)]),  // 10 rows, 4 gates
        ];
        foreach (ParameterSet bad in badSets)
        {
            bad.Values.Fill(7f);
            Assert.Equal("set", Assert.Throws<ArgumentException>(() => Initializers.Apply(bad, RecurrentInitialization.PyTorch, 1)).ParamName);
            Assert.All(bad.Values.ToArray(), v => Assert.Equal(7f, v));   // nothing written
        }

        ParameterSet oneBlock = ParameterSet.Create([new ParameterSpec("b", [8], ParameterRole.InputBias, GateBlocks: 1, Cell: CellType.Lstm)]);
        Assert.Equal("set", Assert.Throws<ArgumentException>(() => Initializers.Apply(oneBlock, RecurrentInitialization.Orthogonal, 1)).ParamName);
    }

    [Fact]
    public void PortableLog_AgreesWithMathLog()
    {
        var random = new DeterministicRandom(12);
        double worst = 0;
        foreach (double x in Enumerable.Range(0, 20000).Select(_ => random.NextDouble())
            .Concat([1.0, 0.5, 2.0, Math.Sqrt(2), 1 - 1e-16, 1 + 2.2e-16, 1e-300, 4.9e-324, 2.2250738585072014e-308, 1e300, double.MaxValue]))
        {
            if (x == 0 || x == 1)
            {
                continue;
            }

            double expected = Math.Log(x), actual = DeterministicRandom.Log(x);
            worst = Math.Max(worst, Math.Abs(actual - expected) / Math.Abs(expected));
            Assert.True(Math.Abs(actual - expected) <= 1e-15 * Math.Abs(expected), $"ln {x:R}: {actual:R} vs {expected:R}");
        }

        output.WriteLine($"max relative difference to Math.Log: {worst:E2}");

        Assert.Equal(0.0, DeterministicRandom.Log(1.0));
    }

    [Fact]
    public void Generator_UniformAndNormalMoments()
    {
        var random = new DeterministicRandom(13);
        const int n = 400_000;
        double sum = 0, sumSquares = 0, sumFourth = 0, uniformSum = 0, uniformMin = 1, uniformMax = 0;
        for (int i = 0; i < n; i++)
        {
            double z = random.NextNormal();
            sum += z;
            sumSquares += z * z;
            sumFourth += z * z * z * z;
            float u = random.NextSingle();
            uniformSum += u;
            uniformMin = Math.Min(uniformMin, u);
            uniformMax = Math.Max(uniformMax, u);
        }

        Assert.True(Math.Abs(sum / n) < 0.01, $"normal mean {sum / n}");
        Assert.True(Math.Abs((sumSquares / n) - 1) < 0.01, $"normal variance {sumSquares / n}");
        Assert.True(Math.Abs((sumFourth / n) - 3) < 0.06, $"normal fourth moment {sumFourth / n}");
        Assert.True(Math.Abs((uniformSum / n) - 0.5) < 0.003, $"uniform mean {uniformSum / n}");
        Assert.True(uniformMin >= 0 && uniformMax < 1);
    }

    /// <summary>An LSTM, GRU or Elman stack (2 layers, bidirectional) with a dense head, under prefixes.</summary>
    internal static ParameterSet Stack(CellType cell, int projection = 0)
    {
        var options = new RecurrentNetworkOptions { Cell = cell, InputSize = 6, HiddenSize = 5, ProjectionSize = projection, Layers = cell == CellType.Gru ? 1 : 2, Bidirectional = cell != CellType.Gru };
        return ParameterSet.Create([.. options.ParameterSpecs("rnn."), .. Dense("head.", 4, options.LayerOutputSize)]);
    }

    private static ParameterSpec[] Dense(string prefix, int outputs, int inputs) =>
    [
        new(prefix + "weight", [outputs, inputs], ParameterRole.DenseWeight),
        new(prefix + "bias", [outputs], ParameterRole.DenseBias),
    ];

    private static void AssertUniform(ReadOnlySpan<float> values, double bound, string what, bool moments = true)
    {
        foreach (float v in values)
        {
            Assert.True(Math.Abs(v) <= (float)bound, $"{what}: {v} outside ±{bound}");
        }

        if (moments && values.Length >= 1000)
        {
            (double mean, double variance) = Moments(values);
            double expected = bound * bound / 3;
            Assert.True(Math.Abs(mean) < 5 * Math.Sqrt(expected / values.Length), $"{what}: mean {mean}");
            Assert.True(Math.Abs((variance / expected) - 1) < 0.05, $"{what}: variance {variance}, expected {expected}");
        }
    }

    private static (double Mean, double Variance) Moments(ReadOnlySpan<float> values)
    {
        double sum = 0, sumSquares = 0;
        foreach (float v in values)
        {
            sum += v;
            sumSquares += (double)v * v;
        }

        double mean = sum / values.Length;
        return (mean, (sumSquares / values.Length) - (mean * mean));
    }

    /// <summary>WᵀW = I (columns) or WWᵀ = I (rows) for a row-major rows × cols matrix, to 1e−5.</summary>
    private static void AssertOrthonormal(ReadOnlySpan<float> w, int rows, int cols, bool columns, string what)
    {
        int k = columns ? cols : rows, n = columns ? rows : cols;
        double worst = 0;
        for (int a = 0; a < k; a++)
        {
            for (int b = 0; b < k; b++)
            {
                double dot = 0;
                for (int i = 0; i < n; i++)
                {
                    dot += columns ? (double)w[(i * cols) + a] * w[(i * cols) + b] : (double)w[(a * cols) + i] * w[(b * cols) + i];
                }

                worst = Math.Max(worst, Math.Abs(dot - (a == b ? 1 : 0)));
            }
        }

        Assert.True(worst < 1e-5, $"{what}: max |(WᵀW − I)| = {worst:E2}");
    }
}
