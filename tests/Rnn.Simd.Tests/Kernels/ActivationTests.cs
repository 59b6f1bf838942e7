using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Reference;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Kernels;

/// <summary>The element-wise functions under test (a public mirror of the internal ActivationKind, plus Exp).</summary>
public enum ElementwiseOp
{
    Identity,
    Sigmoid,
    Tanh,
    Relu,
    Exp,
}

/// <summary>Shared helpers: running an op at a width, the references, the inputs, bit comparison.</summary>
internal static class ActivationTestKit
{
    /// <summary>Every width, emulated or not: results must agree bit for bit.</summary>
    public static readonly VectorWidth[] Widths = [VectorWidth.V512, VectorWidth.V256, VectorWidth.V128, VectorWidth.Scalar];

    /// <summary>A value the kernels never write: a NaN with a recognisable payload.</summary>
    public static readonly float Canary = BitConverter.Int32BitsToSingle(0x7FA5_A5A5);

    public static ActivationKind Kind(ElementwiseOp op) => op switch
    {
        ElementwiseOp.Identity => ActivationKind.Identity,
        ElementwiseOp.Sigmoid => ActivationKind.Sigmoid,
        ElementwiseOp.Tanh => ActivationKind.Tanh,
        ElementwiseOp.Relu => ActivationKind.Relu,
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    public static void Forward(ElementwiseOp op, ReadOnlySpan<float> x, Span<float> y, VectorWidth width)
    {
        if (op == ElementwiseOp.Exp)
        {
            Activations.Exp(x, y, width);
        }
        else
        {
            Activations.Forward(Kind(op), x, y, width);
        }
    }

    public static double Reference(ElementwiseOp op, double x) => op switch
    {
        ElementwiseOp.Identity => x,
        ElementwiseOp.Sigmoid => ActivationReference.Sigmoid(x),
        ElementwiseOp.Tanh => ActivationReference.Tanh(x),
        ElementwiseOp.Relu => ActivationReference.Relu(x),
        _ => ActivationReference.Exp(x),
    };

    /// <summary>Bits with every NaN mapped to one: NaN payloads are not part of the contract.</summary>
    public static int Bits(float value) => float.IsNaN(value) ? 0x7FC0_0000 : BitConverter.SingleToInt32Bits(value);

    public static void AssertSameBits(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (Bits(expected[i]) != Bits(actual[i]))
            {
                Assert.Fail($"{what}: element {i} is {actual[i]:R} (0x{Bits(actual[i]):X8}), expected {expected[i]:R} (0x{Bits(expected[i]):X8}).");
            }
        }
    }

    /// <summary>Special values every kernel must handle: NaN, ±∞, ±0, denormals, range edges, the tanh branch point.</summary>
    public static readonly float[] Specials =
    [
        float.NaN, -float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f,
        float.Epsilon, -float.Epsilon, 1e-40f, -1e-40f, 1.1754942e-38f, -1.1754942e-38f, 1e-20f, -1e-20f,
        1f, -1f, 0.5f, -0.5f, 0.625f, -0.625f, 0.62499994f, -0.62499994f, 9f, -9f, 10f, -10f, 20f, -20f,
        88.7f, -88.7f, 88.72283f, 88.72284f, -87.33655f, -87.33654f, 89f, -89f, 89.5f, -103.9f, -103.97f, -103.98f,
        -104f, 104f, -104.5f, 1e10f, -1e10f, float.MaxValue, float.MinValue,
    ];

    /// <summary>A reproducible mix: specials, random bit patterns over the whole float range, and dense values where the kernels branch.</summary>
    public static float[] MixedInputs(int length, int seed)
    {
        var random = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < length; i++)
        {
            x[i] = (i % 5) switch
            {
                0 => Specials[random.Next(Specials.Length)],
                1 => BitConverter.Int32BitsToSingle(random.Next() | (random.Next(2) << 31)),
                2 => (float)((random.NextDouble() * 24) - 12),
                3 => (float)((random.NextDouble() * 200) - 105),
                _ => (float)((random.NextDouble() * 1.5) - 0.75),
            };
        }

        return x;
    }

    /// <summary>A buffer of <paramref name="length"/> + 2·<paramref name="guard"/> canaries; the middle is the span under test.</summary>
    public static float[] Guarded(int length, int guard)
    {
        var buffer = new float[length + (2 * guard)];
        buffer.AsSpan().Fill(Canary);
        return buffer;
    }

    public static void AssertCanariesIntact(ReadOnlySpan<float> buffer, int start, int length, string what)
    {
        for (int i = 0; i < buffer.Length; i++)
        {
            if ((i < start || i >= start + length) && BitConverter.SingleToInt32Bits(buffer[i]) != BitConverter.SingleToInt32Bits(Canary))
            {
                Assert.Fail($"{what}: the canary at {i} (outside [{start}, {start + length})) was overwritten with {buffer[i]:R}.");
            }
        }
    }
}

/// <summary>Element-wise activations and their derivatives: accuracy, bit-identity across widths, tails, aliasing, special values.</summary>
[Trait("Category", "Kernels")]
[Trait("Isa", "All")]
public sealed class ActivationElementwiseTests(ITestOutputHelper output)
{
    private const int ChunkLength = 1 << 16;

    // The accuracy contract, ulps against the correctly rounded result (measured maxima in the
    // test output and in the commit notes: exp 0.98, tanh 1.23, sigmoid 2.31 on the samples).
    private const double ExpUlpBound = 1.5;
    private const double TanhUlpBound = 1.5;
    private const double SigmoidUlpBound = 2.5;

    private static double UlpBound(ElementwiseOp op) => op switch
    {
        ElementwiseOp.Exp => ExpUlpBound,
        ElementwiseOp.Tanh => TanhUlpBound,
        ElementwiseOp.Sigmoid => SigmoidUlpBound,
        _ => 0,
    };

    public static TheoryData<ElementwiseOp> AllOps => [ElementwiseOp.Identity, ElementwiseOp.Sigmoid, ElementwiseOp.Tanh, ElementwiseOp.Relu, ElementwiseOp.Exp];

    public static TheoryData<ElementwiseOp> Kinds => [ElementwiseOp.Identity, ElementwiseOp.Sigmoid, ElementwiseOp.Tanh, ElementwiseOp.Relu];

    /// <summary>
    /// Max ulp error against the double reference, over every 2053rd finite float of each sign plus a
    /// dense grid over the range where the op is not trivially 0, 1 or ∞. The bounds are the measured
    /// maxima rounded up (see the report in the test output).
    /// </summary>
    [Theory]
    [InlineData(ElementwiseOp.Exp, -110.0, 95.0, ExpUlpBound)]
    [InlineData(ElementwiseOp.Sigmoid, -110.0, 20.0, SigmoidUlpBound)]
    [InlineData(ElementwiseOp.Tanh, -10.0, 10.0, TanhUlpBound)]
    [InlineData(ElementwiseOp.Relu, -10.0, 10.0, 0.0)]
    [InlineData(ElementwiseOp.Identity, -10.0, 10.0, 0.0)]
    public void Forward_IsWithinUlpBoundOfDoubleReference(ElementwiseOp op, double denseLow, double denseHigh, double ulpBound)
    {
        var x = new float[ChunkLength];
        var y = new float[ChunkLength];
        double maxUlp = 0;
        float worstX = 0;
        int filled = 0;

        void Flush()
        {
            ActivationTestKit.Forward(op, x.AsSpan(0, filled), y.AsSpan(0, filled), Isa.Best);
            for (int i = 0; i < filled; i++)
            {
                double error = ActivationReference.UlpError(y[i], ActivationTestKit.Reference(op, x[i]));
                if (!(error <= maxUlp))
                {
                    maxUlp = error;
                    worstX = x[i];
                }
            }

            filled = 0;
        }

        void Add(float value)
        {
            x[filled++] = value;
            if (filled == ChunkLength)
            {
                Flush();
            }
        }

        for (uint bits = 0; bits < 0x7F80_0000u; bits += 2053)
        {
            Add(BitConverter.UInt32BitsToSingle(bits));
            Add(BitConverter.UInt32BitsToSingle(bits | 0x8000_0000u));
        }

        const int DensePoints = 1 << 20;
        for (int k = 0; k <= DensePoints; k++)
        {
            Add((float)(denseLow + ((denseHigh - denseLow) * k / DensePoints)));
        }

        foreach (float special in ActivationTestKit.Specials)
        {
            Add(special);
        }

        Flush();
        output.WriteLine($"{op}: max error {maxUlp:F3} ulp at x = {worstX:R} ({Isa.Describe(Isa.Best)})");
        Assert.True(maxUlp <= ulpBound, $"{op}: max error {maxUlp} ulp at x = {worstX:R} exceeds {ulpBound}.");
    }

    [Theory]
    [MemberData(nameof(AllOps))]
    public void Forward_IsBitIdenticalAtEveryWidth(ElementwiseOp op)
    {
        float[] x = ActivationTestKit.MixedInputs(20_011, seed: 1 + (int)op);
        var expected = new float[x.Length];
        ActivationTestKit.Forward(op, x, expected, VectorWidth.Scalar);

        // The scalar width is the scalar operator element by element: check one against the other too.
        for (int i = 0; i < x.Length; i += 97)
        {
            var one = new float[1];
            ActivationTestKit.Forward(op, x.AsSpan(i, 1), one, VectorWidth.V512);
            ActivationTestKit.AssertSameBits(expected.AsSpan(i, 1), one, $"{op} single element {i}");
        }

        foreach (VectorWidth width in ActivationTestKit.Widths)
        {
            var y = new float[x.Length];
            ActivationTestKit.Forward(op, x, y, width);
            ActivationTestKit.AssertSameBits(expected, y, $"{op} at {width}");
        }
    }

    /// <summary>Every length 0..70 and a few large ones, at every width, out of place (canary-guarded) and in place.</summary>
    [Theory]
    [MemberData(nameof(AllOps))]
    public void Forward_EveryLength_GuardedAndInPlace(ElementwiseOp op)
    {
        const int Guard = 5;
        float[] x = ActivationTestKit.MixedInputs(4099, seed: 11 + (int)op);
        var expected = new float[x.Length];
        ActivationTestKit.Forward(op, x, expected, VectorWidth.Scalar);

        foreach (int length in Lengths())
        {
            foreach (VectorWidth width in ActivationTestKit.Widths)
            {
                float[] buffer = ActivationTestKit.Guarded(length, Guard);
                Span<float> y = buffer.AsSpan(Guard, length);
                ActivationTestKit.Forward(op, x.AsSpan(0, length), y, width);
                ActivationTestKit.AssertSameBits(expected.AsSpan(0, length), y, $"{op} length {length} at {width}");
                ActivationTestKit.AssertCanariesIntact(buffer, Guard, length, $"{op} length {length} at {width}");

                float[] inPlace = ActivationTestKit.Guarded(length, Guard);
                x.AsSpan(0, length).CopyTo(inPlace.AsSpan(Guard));
                Span<float> xy = inPlace.AsSpan(Guard, length);
                ActivationTestKit.Forward(op, xy, xy, width);
                ActivationTestKit.AssertSameBits(expected.AsSpan(0, length), xy, $"{op} in place, length {length} at {width}");
                ActivationTestKit.AssertCanariesIntact(inPlace, Guard, length, $"{op} in place, length {length} at {width}");
            }
        }
    }

    public static TheoryData<ElementwiseOp, float, float> SpecialCases => new()
    {
        { ElementwiseOp.Exp, float.NaN, float.NaN },
        { ElementwiseOp.Exp, float.PositiveInfinity, float.PositiveInfinity },
        { ElementwiseOp.Exp, float.NegativeInfinity, 0f },
        { ElementwiseOp.Exp, 0f, 1f },
        { ElementwiseOp.Exp, -0f, 1f },
        { ElementwiseOp.Exp, float.Epsilon, 1f },
        { ElementwiseOp.Exp, -float.Epsilon, 1f },
        { ElementwiseOp.Exp, 88.72284f, float.PositiveInfinity },
        { ElementwiseOp.Exp, 89f, float.PositiveInfinity },
        { ElementwiseOp.Exp, 1e10f, float.PositiveInfinity },
        { ElementwiseOp.Exp, float.MaxValue, float.PositiveInfinity },
        { ElementwiseOp.Exp, -103.98f, 0f },
        { ElementwiseOp.Exp, -104f, 0f },
        { ElementwiseOp.Exp, -1e10f, 0f },
        { ElementwiseOp.Exp, float.MinValue, 0f },
        { ElementwiseOp.Sigmoid, float.NaN, float.NaN },
        { ElementwiseOp.Sigmoid, float.PositiveInfinity, 1f },
        { ElementwiseOp.Sigmoid, float.NegativeInfinity, 0f },
        { ElementwiseOp.Sigmoid, 0f, 0.5f },
        { ElementwiseOp.Sigmoid, -0f, 0.5f },
        { ElementwiseOp.Sigmoid, 20f, 1f },
        { ElementwiseOp.Sigmoid, float.MaxValue, 1f },
        { ElementwiseOp.Sigmoid, -104f, 0f },
        { ElementwiseOp.Sigmoid, float.MinValue, 0f },
        { ElementwiseOp.Tanh, float.NaN, float.NaN },
        { ElementwiseOp.Tanh, float.PositiveInfinity, 1f },
        { ElementwiseOp.Tanh, float.NegativeInfinity, -1f },
        { ElementwiseOp.Tanh, 0f, 0f },
        { ElementwiseOp.Tanh, -0f, -0f },
        { ElementwiseOp.Tanh, float.Epsilon, float.Epsilon },
        { ElementwiseOp.Tanh, -float.Epsilon, -float.Epsilon },
        { ElementwiseOp.Tanh, 1e-20f, 1e-20f },
        { ElementwiseOp.Tanh, -1e-20f, -1e-20f },
        { ElementwiseOp.Tanh, 10f, 1f },
        { ElementwiseOp.Tanh, -10f, -1f },
        { ElementwiseOp.Tanh, float.MaxValue, 1f },
        { ElementwiseOp.Tanh, float.MinValue, -1f },
        { ElementwiseOp.Relu, float.NaN, float.NaN },
        { ElementwiseOp.Relu, float.PositiveInfinity, float.PositiveInfinity },
        { ElementwiseOp.Relu, float.NegativeInfinity, 0f },
        { ElementwiseOp.Relu, 0f, 0f },
        { ElementwiseOp.Relu, -0f, 0f },
        { ElementwiseOp.Relu, float.Epsilon, float.Epsilon },
        { ElementwiseOp.Relu, -float.Epsilon, 0f },
        { ElementwiseOp.Relu, -1f, 0f },
        { ElementwiseOp.Relu, 2.5f, 2.5f },
        { ElementwiseOp.Identity, -0f, -0f },
        { ElementwiseOp.Identity, float.NegativeInfinity, float.NegativeInfinity },
        { ElementwiseOp.Identity, float.Epsilon, float.Epsilon },
    };

    /// <summary>Exact results (sign of zero included) at every width, with the value in a vector lane and in the scalar tail.</summary>
    [Theory]
    [MemberData(nameof(SpecialCases))]
    public void Forward_SpecialValue_IsExact(ElementwiseOp op, float x, float expected)
    {
        // 37 copies: full vectors of 16, 8 and 4 plus a tail at every width.
        var input = new float[37];
        input.AsSpan().Fill(x);
        foreach (VectorWidth width in ActivationTestKit.Widths)
        {
            var y = new float[input.Length];
            ActivationTestKit.Forward(op, input, y, width);
            foreach (float value in y)
            {
                Assert.Equal(ActivationTestKit.Bits(expected), ActivationTestKit.Bits(value));
            }
        }
    }

    /// <summary>Outputs near the ends of the range (overflow threshold, denormals) are within the ulp bound too.</summary>
    [Theory]
    [InlineData(ElementwiseOp.Exp, 88.7f)]
    [InlineData(ElementwiseOp.Exp, 88.72283f)]
    [InlineData(ElementwiseOp.Exp, -88.7f)]
    [InlineData(ElementwiseOp.Exp, -87.33655f)]
    [InlineData(ElementwiseOp.Exp, -95f)]
    [InlineData(ElementwiseOp.Exp, -103.27893f)]
    [InlineData(ElementwiseOp.Exp, -103.9f)]
    [InlineData(ElementwiseOp.Sigmoid, -88.7f)]
    [InlineData(ElementwiseOp.Sigmoid, -95f)]
    [InlineData(ElementwiseOp.Sigmoid, -103.9f)]
    [InlineData(ElementwiseOp.Tanh, 0.625f)]
    [InlineData(ElementwiseOp.Tanh, -0.62499994f)]
    public void Forward_RangeEdges_AreAccurate(ElementwiseOp op, float x)
    {
        var y = new float[1];
        ActivationTestKit.Forward(op, [x], y, VectorWidth.Scalar);
        double expected = ActivationTestKit.Reference(op, x);
        Assert.True(ActivationReference.UlpError(y[0], expected) <= UlpBound(op), $"{op}({x:R}) = {y[0]:R}, expected {expected:R}.");
        Assert.True(y[0] != 0f && float.IsFinite(y[0]), "Not flushed to 0, not overflowed.");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Backward_IsBitIdenticalAtEveryWidth_OverwriteAndAdd(ElementwiseOp op)
    {
        ActivationKind kind = ActivationTestKit.Kind(op);
        float[] x = ActivationTestKit.MixedInputs(10_007, seed: 21 + (int)op);
        float[] dy = ActivationTestKit.MixedInputs(10_007, seed: 31 + (int)op);
        float[] dx0 = ActivationTestKit.MixedInputs(10_007, seed: 41 + (int)op);
        var y = new float[x.Length];
        Activations.Forward(kind, x, y, VectorWidth.Scalar);

        var expected = new float[x.Length];
        Activations.Backward(kind, y, dy, expected, VectorWidth.Scalar);
        var expectedAdd = (float[])dx0.Clone();
        Activations.BackwardAdd(kind, y, dy, expectedAdd, VectorWidth.Scalar);

        foreach (VectorWidth width in ActivationTestKit.Widths)
        {
            var dx = new float[x.Length];
            Activations.Backward(kind, y, dy, dx, width);
            ActivationTestKit.AssertSameBits(expected, dx, $"{op} backward at {width}");

            var dxAdd = (float[])dx0.Clone();
            Activations.BackwardAdd(kind, y, dy, dxAdd, width);
            ActivationTestKit.AssertSameBits(expectedAdd, dxAdd, $"{op} backward-add at {width}");
        }

        // Accumulating is exactly "overwrite into a temporary, then add".
        for (int i = 0; i < x.Length; i++)
        {
            Assert.Equal(ActivationTestKit.Bits(dx0[i] + expected[i]), ActivationTestKit.Bits(expectedAdd[i]));
        }
    }

    /// <summary>dx = dy·f'(y) against the formula in double, every length 0..70 and large, guarded, and with dx aliasing dy or y.</summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public void Backward_EveryLength_GuardedAliasedAndAccurate(ElementwiseOp op)
    {
        const int Guard = 3;
        ActivationKind kind = ActivationTestKit.Kind(op);
        var random = new Random(51 + (int)op);
        float[] x = [.. Enumerable.Range(0, 4099).Select(_ => (float)((random.NextDouble() * 16) - 8))];
        float[] dy = [.. Enumerable.Range(0, 4099).Select(_ => (float)((random.NextDouble() * 4) - 2))];
        var y = new float[x.Length];
        Activations.Forward(kind, x, y);

        foreach (int length in Lengths())
        {
            foreach (VectorWidth width in ActivationTestKit.Widths)
            {
                float[] buffer = ActivationTestKit.Guarded(length, Guard);
                Span<float> dx = buffer.AsSpan(Guard, length);
                Activations.Backward(kind, y.AsSpan(0, length), dy.AsSpan(0, length), dx, width);
                ActivationTestKit.AssertCanariesIntact(buffer, Guard, length, $"{op} backward length {length} at {width}");
                for (int i = 0; i < length; i++)
                {
                    double expected = dy[i] * DerivativeFromOutput(op, y[i]);
                    // Up to three roundings (1 − y, the product with y, the product with dy).
                    Assert.True(Math.Abs(dx[i] - expected) <= 3 * ActivationReference.Ulp(expected), $"{op}: dx[{i}] = {dx[i]:R}, expected {expected:R}.");
                }

                // dx aliasing dy, then dx aliasing y: the same bits.
                float[] aliasDy = dy.AsSpan(0, length).ToArray();
                Activations.Backward(kind, y.AsSpan(0, length), aliasDy, aliasDy, width);
                ActivationTestKit.AssertSameBits(dx, aliasDy, $"{op} dx = dy, length {length} at {width}");

                float[] aliasY = y.AsSpan(0, length).ToArray();
                Activations.Backward(kind, aliasY, dy.AsSpan(0, length), aliasY, width);
                ActivationTestKit.AssertSameBits(dx, aliasY, $"{op} dx = y, length {length} at {width}");
            }
        }
    }

    /// <summary>The output-based derivative agrees with a central difference of the double reference in x.</summary>
    [Theory]
    [InlineData(ElementwiseOp.Sigmoid)]
    [InlineData(ElementwiseOp.Tanh)]
    [InlineData(ElementwiseOp.Relu)]
    [InlineData(ElementwiseOp.Identity)]
    public void Backward_MatchesFiniteDifferences(ElementwiseOp op)
    {
        ActivationKind kind = ActivationTestKit.Kind(op);
        float[] x = [.. Enumerable.Range(0, 200).Select(i => -9.95f + (i * 0.1f))];
        float[] dy = [.. Enumerable.Range(0, 200).Select(i => 0.5f + ((i % 7) * 0.25f))];
        var y = new float[x.Length];
        var dx = new float[x.Length];
        Activations.Forward(kind, x, y);
        Activations.Backward(kind, y, dy, dx);

        const double H = 1e-5;
        for (int i = 0; i < x.Length; i++)
        {
            double derivative = (ActivationTestKit.Reference(op, x[i] + H) - ActivationTestKit.Reference(op, x[i] - H)) / (2 * H);
            double expected = dy[i] * derivative;
            Assert.True(Math.Abs(dx[i] - expected) <= 1e-6 + (1e-5 * Math.Abs(expected)), $"{op}: at x = {x[i]:R} dx = {dx[i]:R}, finite difference {expected:R}.");
        }
    }

    [Fact]
    public void BackwardAdd_TwiceIntoZeros_IsTwiceOneBackward()
    {
        float[] x = ActivationTestKit.MixedInputs(1001, seed: 61);
        float[] dy = [.. Enumerable.Range(0, 1001).Select(i => (float)Math.Sin(i))];
        foreach (ElementwiseOp op in new[] { ElementwiseOp.Identity, ElementwiseOp.Sigmoid, ElementwiseOp.Tanh, ElementwiseOp.Relu })
        {
            ActivationKind kind = ActivationTestKit.Kind(op);
            var y = new float[x.Length];
            Activations.Forward(kind, x, y);
            var once = new float[x.Length];
            Activations.Backward(kind, y, dy, once);
            var twice = new float[x.Length];
            Activations.BackwardAdd(kind, y, dy, twice);
            Activations.BackwardAdd(kind, y, dy, twice);
            for (int i = 0; i < x.Length; i++)
            {
                // Equal values; the sign of a zero may differ (relu: 0 + (−0) = +0, 2·(−0) = −0).
                Assert.True(2 * once[i] == twice[i] || (float.IsNaN(once[i]) && float.IsNaN(twice[i])), $"{op}: element {i}: {twice[i]:R} vs 2·{once[i]:R}.");
            }
        }
    }

    [Fact]
    public void ReluBackward_PassesGradientOnlyWherePositive_AndKeepsNonFiniteGradientsVisible()
    {
        float[] y = [2f, 0f, -0f, 0f, 3f, float.NaN, float.PositiveInfinity];
        float[] dy = [5f, 5f, 5f, float.PositiveInfinity, float.NaN, 7f, 1f];
        var dx = new float[y.Length];
        foreach (VectorWidth width in ActivationTestKit.Widths)
        {
            Activations.Backward(ActivationKind.Relu, y, dy, dx, width);
            ActivationTestKit.AssertSameBits([5f, 0f, 0f, float.NaN, float.NaN, 0f, 1f], dx, $"relu backward at {width}");
        }
    }

    /// <summary>
    /// Set RNN_SIMD_EXHAUSTIVE=1 to sweep all 2^32 inputs (minutes): reports the max ulp error per op.
    /// Without it the test only checks a 2^20-point sample, like the other accuracy tests.
    /// </summary>
    [Fact]
    public void ExhaustiveUlpSweep_WhenRequested()
    {
        bool exhaustive = Environment.GetEnvironmentVariable("RNN_SIMD_EXHAUSTIVE") == "1";
        uint step = exhaustive ? 1u : 4096u;
        var x = new float[ChunkLength];
        var y = new float[ChunkLength];
        foreach (ElementwiseOp op in new[] { ElementwiseOp.Exp, ElementwiseOp.Sigmoid, ElementwiseOp.Tanh })
        {
            double maxUlp = 0;
            float worstX = 0;
            ulong bits = 0;
            while (bits <= uint.MaxValue)
            {
                int n = 0;
                for (; n < ChunkLength && bits <= uint.MaxValue; n++, bits += step)
                {
                    x[n] = BitConverter.UInt32BitsToSingle((uint)bits);
                }

                ActivationTestKit.Forward(op, x.AsSpan(0, n), y.AsSpan(0, n), Isa.Best);
                for (int i = 0; i < n; i++)
                {
                    double error = ActivationReference.UlpError(y[i], ActivationTestKit.Reference(op, x[i]));
                    if (!(error <= maxUlp))
                    {
                        maxUlp = error;
                        worstX = x[i];
                    }
                }
            }

            output.WriteLine($"{op}: max error {maxUlp:F3} ulp at x = {worstX:R} over every {step}th float");
            Assert.True(maxUlp <= UlpBound(op), $"{op}: {maxUlp} ulp at x = {worstX:R}.");
        }
    }

    internal static IEnumerable<int> Lengths() => Enumerable.Range(0, 71).Concat([127, 1000, 4099]);

    private static double DerivativeFromOutput(ElementwiseOp op, double y) => op switch
    {
        ElementwiseOp.Sigmoid => y * (1 - y),
        ElementwiseOp.Tanh => 1 - (y * y),
        ElementwiseOp.Relu => y > 0 ? 1 : 0,
        _ => 1,
    };
}

/// <summary>Row-wise softmax and log-softmax, forward and backward.</summary>
[Trait("Category", "Kernels")]
[Trait("Isa", "All")]
public sealed class ActivationSoftmaxTests(ITestOutputHelper output)
{
    public enum RowOp
    {
        Softmax,
        LogSoftmax,
        SoftmaxBackward,
        LogSoftmaxBackward,
    }

    public static TheoryData<RowOp> AllRowOps => [RowOp.Softmax, RowOp.LogSoftmax, RowOp.SoftmaxBackward, RowOp.LogSoftmaxBackward];

    /// <summary>
    /// Runs a row op. Forward ops read <paramref name="a"/> (x); backward ops read <paramref name="a"/> (y) and
    /// <paramref name="b"/> (dy). All matrices share <paramref name="stride"/>.
    /// </summary>
    private static void Run(RowOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> result, int rows, int cols, int stride, VectorWidth width)
    {
        switch (op)
        {
            case RowOp.Softmax:
                Activations.SoftmaxRows(a, stride, result, stride, rows, cols, width);
                break;
            case RowOp.LogSoftmax:
                Activations.LogSoftmaxRows(a, stride, result, stride, rows, cols, width);
                break;
            case RowOp.SoftmaxBackward:
                Activations.SoftmaxRowsBackward(a, stride, b, stride, result, stride, rows, cols, width);
                break;
            default:
                Activations.LogSoftmaxRowsBackward(a, stride, b, stride, result, stride, rows, cols, width);
                break;
        }
    }

    /// <summary>Inputs for a row op: x for forward ops; (y, dy) with y a real (log-)softmax output for backward ops.</summary>
    private static (float[] A, float[] B) Inputs(RowOp op, int rows, int cols, int stride, int seed, double scale = 8)
    {
        var random = new Random(seed);
        int length = rows == 0 ? 0 : ((rows - 1) * stride) + cols;
        float[] a = [.. Enumerable.Range(0, length).Select(_ => (float)(((random.NextDouble() * 2) - 1) * scale))];
        float[] b = [.. Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2) - 1))];
        if (op == RowOp.SoftmaxBackward)
        {
            Activations.SoftmaxRows(a, stride, a, stride, rows, cols);
        }
        else if (op == RowOp.LogSoftmaxBackward)
        {
            Activations.LogSoftmaxRows(a, stride, a, stride, rows, cols);
        }

        return (a, b);
    }

    /// <summary>
    /// Every column count 0..70 and a few large, at every width: bits equal to the scalar width, the gaps
    /// between rows and the surroundings untouched, and in place equal to out of place.
    /// </summary>
    [Theory]
    [MemberData(nameof(AllRowOps))]
    public void EveryColumnCount_BitIdenticalAtEveryWidth_GuardedAndInPlace(RowOp op)
    {
        const int Guard = 4;
        foreach (int cols in ActivationElementwiseTests.Lengths())
        {
            int rows = cols > 1000 ? 2 : 3;
            int stride = cols + 3;
            (float[] a, float[] b) = Inputs(op, rows, cols, stride, seed: cols);
            int length = a.Length;

            float[] expected = ActivationTestKit.Guarded(length, Guard);
            Run(op, a, b, expected.AsSpan(Guard, length), rows, cols, stride, VectorWidth.Scalar);
            AssertGapsIntact(expected, Guard, rows, cols, stride, $"{op} cols {cols} scalar");

            foreach (VectorWidth width in ActivationTestKit.Widths)
            {
                float[] result = ActivationTestKit.Guarded(length, Guard);
                Run(op, a, b, result.AsSpan(Guard, length), rows, cols, stride, width);
                ActivationTestKit.AssertSameBits(expected, result, $"{op} cols {cols} at {width}");

                // In place: the result overwrites the first input (x, or y for backward).
                float[] inPlace = ActivationTestKit.Guarded(length, Guard);
                a.CopyTo(inPlace, Guard);
                Span<float> io = inPlace.AsSpan(Guard, length);
                Run(op, io, b, io, rows, cols, stride, width);
                AssertRowsEqual(expected.AsSpan(Guard, length), io, rows, cols, stride, $"{op} in place, cols {cols} at {width}");

                if (op is RowOp.SoftmaxBackward or RowOp.LogSoftmaxBackward)
                {
                    // dx aliasing dy.
                    float[] dyInPlace = (float[])b.Clone();
                    Run(op, a, dyInPlace, dyInPlace, rows, cols, stride, width);
                    AssertRowsEqual(expected.AsSpan(Guard, length), dyInPlace, rows, cols, stride, $"{op} dx = dy, cols {cols} at {width}");
                }
            }
        }
    }

    /// <summary>Forward accuracy against the double reference, in ulps of each output (softmax) or of the row's scale (log-softmax).</summary>
    [Theory]
    [InlineData(RowOp.Softmax, 8.0)]
    [InlineData(RowOp.Softmax, 40.0)]
    [InlineData(RowOp.LogSoftmax, 8.0)]
    [InlineData(RowOp.LogSoftmax, 40.0)]
    public void Forward_IsAccurateAgainstDoubleReference(RowOp op, double scale)
    {
        foreach (int cols in new[] { 1, 2, 3, 7, 16, 17, 33, 70, 257, 1000, 4099 })
        {
            double rowError = 0;
            (float[] x, _) = Inputs(op, 1, cols, cols, seed: 100 + cols, scale);
            var y = new float[cols];
            Run(op, x, default, y, 1, cols, cols, Isa.Best);

            double[] xd = [.. x.Select(v => (double)v)];
            var reference = new double[cols];
            if (op == RowOp.Softmax)
            {
                ActivationReference.Softmax(xd, reference);
            }
            else
            {
                ActivationReference.LogSoftmax(xd, reference);
            }

            double rowScale = reference.Max(v => Math.Abs(v));
            float max = x.Max();
            for (int i = 0; i < cols; i++)
            {
                // Softmax: in ulps of each output, less |x − max|: rounding x − max to float (as every float
                // softmax does, PyTorch's included) costs up to |x − max| ulps of e^(x − max), inherent in
                // the float input, not in the kernel. What remains is exp, the sum and the division.
                // Log-softmax: relative to the row's largest |y|, because (x − max) − log Σ cancels for the
                // largest elements; a few ulps of the row's scale is what float arithmetic can promise there.
                double error = op == RowOp.Softmax
                    ? ActivationReference.UlpError(y[i], reference[i]) - Math.Abs(x[i] - max)
                    : Math.Abs(y[i] - reference[i]) / ActivationReference.Ulp(Math.Max(rowScale, 1.0));
                rowError = Math.Max(rowError, error);
            }

            // The row sum adds ⌈cols/16⌉ terms in sequence per partial: allow its rounding to grow as √ of that.
            double bound = 2 + (0.5 * Math.Sqrt(Math.Ceiling(cols / 16.0)));
            output.WriteLine($"{op} (inputs ±{scale}), cols {cols}: max error {rowError:F3} ulp (bound {bound:F2})");
            Assert.True(rowError <= bound, $"{op}, cols {cols}: max error {rowError} ulp exceeds {bound}.");
        }
    }

    /// <summary>The backward kernels agree with central differences of the double forward reference.</summary>
    [Theory]
    [InlineData(RowOp.SoftmaxBackward)]
    [InlineData(RowOp.LogSoftmaxBackward)]
    public void Backward_MatchesFiniteDifferences(RowOp op)
    {
        bool log = op == RowOp.LogSoftmaxBackward;
        foreach (int cols in new[] { 1, 2, 5, 16, 19, 40 })
        {
            var random = new Random(200 + cols);
            float[] x = [.. Enumerable.Range(0, cols).Select(_ => (float)((random.NextDouble() * 6) - 3))];
            float[] dy = [.. Enumerable.Range(0, cols).Select(_ => (float)((random.NextDouble() * 2) - 1))];
            var y = new float[cols];
            var dx = new float[cols];
            if (log)
            {
                Activations.LogSoftmaxRows(x, cols, y, cols, 1, cols);
                Activations.LogSoftmaxRowsBackward(y, cols, dy, cols, dx, cols, 1, cols);
            }
            else
            {
                Activations.SoftmaxRows(x, cols, y, cols, 1, cols);
                Activations.SoftmaxRowsBackward(y, cols, dy, cols, dx, cols, 1, cols);
            }

            // L(x) = Σ dy_i · f(x)_i in double; dL/dx_j by central differences.
            double Loss(double[] xd)
            {
                var f = new double[cols];
                if (log)
                {
                    ActivationReference.LogSoftmax(xd, f);
                }
                else
                {
                    ActivationReference.Softmax(xd, f);
                }

                double sum = 0;
                for (int i = 0; i < cols; i++)
                {
                    sum += dy[i] * f[i];
                }

                return sum;
            }

            const double H = 1e-6;
            for (int j = 0; j < cols; j++)
            {
                double[] plus = [.. x.Select(v => (double)v)];
                double[] minus = [.. x.Select(v => (double)v)];
                plus[j] += H;
                minus[j] -= H;
                double expected = (Loss(plus) - Loss(minus)) / (2 * H);
                Assert.True(Math.Abs(dx[j] - expected) <= 2e-6 + (1e-5 * Math.Abs(expected)), $"{op} cols {cols}: dx[{j}] = {dx[j]:R}, finite difference {expected:R}.");
            }
        }
    }

    public static TheoryData<float[], float[], float[]> SpecialRows => new()
    {
        // x, softmax, log-softmax.
        { [1f, float.NaN, 2f], [float.NaN, float.NaN, float.NaN], [float.NaN, float.NaN, float.NaN] },
        { [1f, float.PositiveInfinity, 2f], [float.NaN, float.NaN, float.NaN], [float.NaN, float.NaN, float.NaN] },
        { [float.NegativeInfinity, float.NegativeInfinity], [float.NaN, float.NaN], [float.NaN, float.NaN] },
        { [float.NegativeInfinity, 0f, float.NegativeInfinity], [0f, 1f, 0f], [float.NegativeInfinity, 0f, float.NegativeInfinity] },
        { [5f], [1f], [0f] },
        { [-3e38f], [1f], [0f] },
        { [3e38f, 3e38f], [0.5f, 0.5f], [-0.6931472f, -0.6931472f] },
        { [3e38f, -3e38f], [1f, 0f], [0f, float.NegativeInfinity] },
        { [7f, 7f, 7f, 7f], [0.25f, 0.25f, 0.25f, 0.25f], [-1.3862944f, -1.3862944f, -1.3862944f, -1.3862944f] },
        { [1e-40f, -1e-40f, 0f, -0f], [0.25f, 0.25f, 0.25f, 0.25f], [-1.3862944f, -1.3862944f, -1.3862944f, -1.3862944f] },
    };

    /// <summary>NaN/∞ policy (whole row NaN for NaN, +∞ or all −∞; as PyTorch) and exact simple rows, at every width.</summary>
    [Theory]
    [MemberData(nameof(SpecialRows))]
    public void Forward_SpecialRows(float[] x, float[] softmax, float[] logSoftmax)
    {
        // Tile the row 3 times with a gap, and run it also inside a long row to exercise vector lanes.
        int cols = x.Length;
        foreach (VectorWidth width in ActivationTestKit.Widths)
        {
            var y = new float[cols];
            Activations.SoftmaxRows(x, cols, y, cols, 1, cols, width);
            ActivationTestKit.AssertSameBits(softmax, y, $"softmax at {width}");
            Activations.LogSoftmaxRows(x, cols, y, cols, 1, cols, width);
            ActivationTestKit.AssertSameBits(logSoftmax, y, $"log-softmax at {width}");
        }

        // A NaN or +∞ poisons the row wherever it sits in a long row.
        if (x.Any(v => float.IsNaN(v) || v == float.PositiveInfinity))
        {
            float[] longRow = [.. Enumerable.Range(0, 45).Select(i => (float)Math.Sin(i))];
            x.CopyTo(longRow, 40);
            var y = new float[longRow.Length];
            foreach (VectorWidth width in ActivationTestKit.Widths)
            {
                Activations.SoftmaxRows(longRow, 45, y, 45, 1, 45, width);
                Assert.All(y, v => Assert.True(float.IsNaN(v)));
            }
        }
    }

    /// <summary>The row sum's order is fixed (16 partials): summing the same values at every width gives the same bits,
    /// even for values where a different order would round differently.</summary>
    [Fact]
    public void RowSum_OrderIsIndependentOfWidth()
    {
        var random = new Random(7);
        foreach (int length in new[] { 15, 16, 17, 31, 33, 100, 1001 })
        {
            float[] values = [.. Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * Math.Pow(2, random.Next(-20, 20))))];
            float expected = RowDriver.MapReduce<FirstOperator, SumReduction>(default, values, values, default, VectorWidth.Scalar);

            // The documented scheme, spelled out: partial i mod 16, then the pairwise tree.
            var partials = new float[16];
            for (int i = 0; i < length; i++)
            {
                partials[i % 16] += values[i];
            }

            for (int half = 8; half > 0; half /= 2)
            {
                for (int k = 0; k < half; k++)
                {
                    partials[k] += partials[k + half];
                }
            }

            Assert.Equal(ActivationTestKit.Bits(partials[0]), ActivationTestKit.Bits(expected));
            foreach (VectorWidth width in ActivationTestKit.Widths)
            {
                float sum = RowDriver.MapReduce<FirstOperator, SumReduction>(default, values, values, default, width);
                Assert.Equal(ActivationTestKit.Bits(expected), ActivationTestKit.Bits(sum));
            }
        }
    }

    private static void AssertGapsIntact(float[] buffer, int guard, int rows, int cols, int stride, string what)
    {
        for (int i = 0; i < buffer.Length; i++)
        {
            int offset = i - guard;
            bool inMatrix = offset >= 0 && offset / stride < rows && offset % stride < cols;
            if (!inMatrix)
            {
                Assert.True(BitConverter.SingleToInt32Bits(buffer[i]) == BitConverter.SingleToInt32Bits(ActivationTestKit.Canary), $"{what}: element {i} outside the matrix was written.");
            }
        }
    }

    private static void AssertRowsEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, int rows, int cols, int stride, string what)
    {
        for (int r = 0; r < rows; r++)
        {
            ActivationTestKit.AssertSameBits(expected.Slice(r * stride, cols), actual.Slice(r * stride, cols), $"{what}, row {r}");
        }
    }
}

/// <summary>Argument validation, zero allocation and the ISA switches.</summary>
[Trait("Category", "Kernels")]
[Trait("Isa", "All")]
public sealed class ActivationContractTests
{
    [Fact]
    public void Forward_RejectsBadArguments_NamingTheParameter()
    {
        var x = new float[8];
        var y = new float[8];
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => Activations.Forward(ActivationKind.Tanh, x, new float[7])).ParamName);
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => Activations.Exp(x, new float[9])).ParamName);
        Assert.Equal("kind", Assert.Throws<ArgumentOutOfRangeException>(() => Activations.Forward((ActivationKind)42, x, y)).ParamName);
        Assert.Equal("width", Assert.Throws<ArgumentOutOfRangeException>(() => Activations.Forward(ActivationKind.Relu, x, y, (VectorWidth)3)).ParamName);
        Assert.Equal("width", Assert.Throws<ArgumentOutOfRangeException>(() => Activations.Exp(x, y, (VectorWidth)0)).ParamName);

        // Partial overlap is refused; exact aliasing (in place) is fine.
        var buffer = new float[16];
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => Activations.Forward(ActivationKind.Sigmoid, buffer.AsSpan(0, 8), buffer.AsSpan(1, 8))).ParamName);
        Activations.Forward(ActivationKind.Sigmoid, buffer.AsSpan(0, 8), buffer.AsSpan(0, 8));
        Activations.Forward(ActivationKind.Sigmoid, buffer.AsSpan(0, 8), buffer.AsSpan(8, 8));
    }

    [Fact]
    public void Backward_RejectsBadArguments_NamingTheParameter()
    {
        var y = new float[8];
        var dy = new float[8];
        var dx = new float[8];
        Assert.Equal("dy", Assert.Throws<ArgumentException>(() => Activations.Backward(ActivationKind.Tanh, y, new float[7], dx)).ParamName);
        Assert.Equal("dx", Assert.Throws<ArgumentException>(() => Activations.Backward(ActivationKind.Tanh, y, dy, new float[9])).ParamName);
        Assert.Equal("dx", Assert.Throws<ArgumentException>(() => Activations.BackwardAdd(ActivationKind.Tanh, y, dy, new float[7])).ParamName);
        Assert.Equal("kind", Assert.Throws<ArgumentOutOfRangeException>(() => Activations.Backward((ActivationKind)(-1), y, dy, dx)).ParamName);
        Assert.Equal("kind", Assert.Throws<ArgumentOutOfRangeException>(() => Activations.BackwardAdd((ActivationKind)4, y, dy, dx)).ParamName);
        Assert.Equal("width", Assert.Throws<ArgumentOutOfRangeException>(() => Activations.Backward(ActivationKind.Relu, y, dy, dx, (VectorWidth)2)).ParamName);

        var buffer = new float[20];
        Assert.Equal("dx", Assert.Throws<ArgumentException>(() => Activations.Backward(ActivationKind.Tanh, y, buffer.AsSpan(0, 8), buffer.AsSpan(2, 8))).ParamName);
        Assert.Equal("dx", Assert.Throws<ArgumentException>(() => Activations.Backward(ActivationKind.Tanh, buffer.AsSpan(4, 8), dy, buffer.AsSpan(0, 8))).ParamName);
    }

    [Fact]
    public void SoftmaxRows_RejectBadArguments_NamingTheParameter()
    {
        var x = new float[12];
        var y = new float[12];
        Assert.Equal("rows", Assert.Throws<ArgumentOutOfRangeException>(() => Activations.SoftmaxRows(x, 4, y, 4, -1, 4)).ParamName);
        Assert.Equal("cols", Assert.Throws<ArgumentOutOfRangeException>(() => Activations.LogSoftmaxRows(x, 4, y, 4, 3, -4)).ParamName);
        Assert.Equal("xStride", Assert.Throws<ArgumentOutOfRangeException>(() => Activations.SoftmaxRows(x, 3, y, 4, 3, 4)).ParamName);
        Assert.Equal("yStride", Assert.Throws<ArgumentOutOfRangeException>(() => Activations.LogSoftmaxRows(x, 4, y, 2, 3, 4)).ParamName);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => Activations.SoftmaxRows(x, 5, y, 4, 3, 4)).ParamName);
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => Activations.SoftmaxRows(x, 4, new float[11], 4, 3, 4)).ParamName);
        Assert.Equal("width", Assert.Throws<ArgumentOutOfRangeException>(() => Activations.SoftmaxRows(x, 4, y, 4, 3, 4, (VectorWidth)5)).ParamName);

        // In place needs the same start and stride; a shifted or re-strided overlap is refused.
        var buffer = new float[24];
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => Activations.SoftmaxRows(buffer, 4, buffer.AsSpan(1), 4, 3, 4)).ParamName);
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => Activations.SoftmaxRows(buffer, 4, buffer, 5, 3, 4)).ParamName);
        Activations.SoftmaxRows(buffer, 4, buffer, 4, 3, 4);
        Activations.SoftmaxRows(buffer, 4, buffer.AsSpan(12), 4, 3, 4);

        // Empty matrices need no buffer at all.
        Activations.SoftmaxRows([], 0, [], 0, 0, 0);
        Activations.LogSoftmaxRows([], 7, [], 7, 5, 0);
    }

    [Fact]
    public void SoftmaxRowsBackward_RejectBadArguments_NamingTheParameter()
    {
        var y = new float[12];
        var dy = new float[12];
        var dx = new float[12];
        Assert.Equal("rows", Assert.Throws<ArgumentOutOfRangeException>(() => Activations.SoftmaxRowsBackward(y, 4, dy, 4, dx, 4, -2, 4)).ParamName);
        Assert.Equal("cols", Assert.Throws<ArgumentOutOfRangeException>(() => Activations.LogSoftmaxRowsBackward(y, 4, dy, 4, dx, 4, 3, -1)).ParamName);
        Assert.Equal("yStride", Assert.Throws<ArgumentOutOfRangeException>(() => Activations.SoftmaxRowsBackward(y, 3, dy, 4, dx, 4, 3, 4)).ParamName);
        Assert.Equal("dyStride", Assert.Throws<ArgumentOutOfRangeException>(() => Activations.SoftmaxRowsBackward(y, 4, dy, 3, dx, 4, 3, 4)).ParamName);
        Assert.Equal("dxStride", Assert.Throws<ArgumentOutOfRangeException>(() => Activations.LogSoftmaxRowsBackward(y, 4, dy, 4, dx, 1, 3, 4)).ParamName);
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => Activations.SoftmaxRowsBackward(new float[11], 4, dy, 4, dx, 4, 3, 4)).ParamName);
        Assert.Equal("dy", Assert.Throws<ArgumentException>(() => Activations.SoftmaxRowsBackward(y, 4, new float[11], 4, dx, 4, 3, 4)).ParamName);
        Assert.Equal("dx", Assert.Throws<ArgumentException>(() => Activations.LogSoftmaxRowsBackward(y, 4, dy, 4, new float[11], 4, 3, 4)).ParamName);

        var buffer = new float[30];
        Assert.Equal("dx", Assert.Throws<ArgumentException>(() => Activations.SoftmaxRowsBackward(buffer, 4, dy, 4, buffer.AsSpan(3), 4, 3, 4)).ParamName);
        Assert.Equal("dx", Assert.Throws<ArgumentException>(() => Activations.LogSoftmaxRowsBackward(y, 4, buffer, 4, buffer.AsSpan(1), 4, 3, 4)).ParamName);
    }

    [Fact]
    public void EveryEntryPoint_AllocatesNothing_AfterWarmUp()
    {
        var x = new float[1031];
        var y = new float[1031];
        var dx = new float[1031];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)Math.Sin(i) * 10;
        }

        ActivationKind[] kinds = [ActivationKind.Identity, ActivationKind.Sigmoid, ActivationKind.Tanh, ActivationKind.Relu];

        void CallEverything()
        {
            Activations.Exp(x, y);
            foreach (ActivationKind kind in kinds)
            {
                Activations.Forward(kind, x, y);
                Activations.Backward(kind, y, x, dx);
                Activations.BackwardAdd(kind, y, x, dx);
            }

            Activations.SoftmaxRows(x, 103, y, 103, 10, 100);
            Activations.LogSoftmaxRows(x, 103, y, 103, 10, 100);
            Activations.SoftmaxRowsBackward(y, 103, x, 103, dx, 103, 10, 100);
            Activations.LogSoftmaxRowsBackward(y, 103, x, 103, dx, 103, 10, 100);
        }

        AllocationAssert.None(CallEverything, repeats: 50);
    }
}
