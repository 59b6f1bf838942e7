using System.Numerics.Tensors;
using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Tests.Infrastructure;
using Xunit;

namespace Rnn.Simd.Tests.Kernels;

/// <summary>
/// The fused one-pass cell updates and cell gradients against the operation-by-operation form they replace (one TensorPrimitives or
/// activation pass per operation, scalar width), bit for bit, at every width, with tails, special values and the
/// aliasing the layers use.
/// </summary>
[Trait("Category", "Kernels")]
[Trait("Isa", "All")]
public sealed class CellUpdateTests
{
    public static TheoryData<int> Sizes => [1, 3, 4, 7, 8, 15, 16, 17, 37, 64, 100];

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Lstm_is_the_pass_by_pass_update_at_every_width(int h)
    {
        var random = new TestRandom((ulong)(1000 + h));
        float[] gates = Inputs(random, 4 * h, 6f), bias = Inputs(random, 4 * h, 1f), cPrev = Inputs(random, h, 3f);

        // Reference: the passes in the order the fused loop must reproduce.
        float[] rg = (float[])gates.Clone(), rc = new float[h], rh = new float[h], rt = new float[h], scratch = new float[h];
        TensorPrimitives.Add(rg, bias, rg);
        Activations.Forward(ActivationKind.Sigmoid, rg.AsSpan(0, 3 * h), rg.AsSpan(0, 3 * h), VectorWidth.Scalar);
        Activations.Forward(ActivationKind.Tanh, rg.AsSpan(3 * h, h), rg.AsSpan(3 * h, h), VectorWidth.Scalar);
        TensorPrimitives.Multiply(rg.AsSpan(h, h), cPrev, rc);
        TensorPrimitives.Multiply(rg.AsSpan(0, h), rg.AsSpan(3 * h, h), scratch);
        TensorPrimitives.Add(rc, scratch, rc);
        Activations.Forward(ActivationKind.Tanh, rc, rt, VectorWidth.Scalar);
        TensorPrimitives.Multiply(rg.AsSpan(2 * h, h), rt, rh);

        foreach (VectorWidth width in ActivationTestKit.Widths)
        {
            float[] g = (float[])gates.Clone(), c = new float[h], hCell = new float[h], tanhC = new float[h];
            LstmCell.Forward(g, bias, cPrev, c, hCell, tanhC, width);
            AssertBits(rg, g, $"gates at {width}");
            AssertBits(rc, c, $"c at {width}");
            AssertBits(rt, tanhC, $"tanh(c) at {width}");
            AssertBits(rh, hCell, $"h at {width}");

            // Inference passes the same span for tanh(c) and h.
            float[] g2 = (float[])gates.Clone(), c2 = new float[h], h2 = new float[h];
            LstmCell.Forward(g2, bias, cPrev, c2, h2, h2, width);
            AssertBits(rh, h2, $"h (aliased with tanh(c)) at {width}");
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Gru_reset_after_is_the_pass_by_pass_update_at_every_width(int h)
    {
        var random = new TestRandom((ulong)(2000 + h));
        float[] gates = Inputs(random, 3 * h, 6f), recurrent = Inputs(random, 3 * h, 6f), bias = Inputs(random, 3 * h, 1f);
        float[] newBias = Inputs(random, h, 1f), hPrev = Inputs(random, h, 1f);

        float[] rg = (float[])gates.Clone(), rec = (float[])recurrent.Clone(), rHn = new float[h], rH = new float[h];
        GruCell.ResetBeforeGates(rg, rec, bias);
        Span<float> recNew = rec.AsSpan(2 * h, h);
        TensorPrimitives.Add(recNew, newBias, rHn);                   // hn = W_hn h + b_hn
        TensorPrimitives.Multiply(rg.AsSpan(0, h), rHn, recNew);      // r ⊙ hn
        GruCell.ResetBeforeState(rg, bias, recNew, hPrev, rH, rH);

        foreach (VectorWidth width in ActivationTestKit.Widths)
        {
            float[] g = (float[])gates.Clone(), hNext = new float[h], hn = new float[h];
            GruCell.ResetAfter(g, recurrent, bias, newBias, hPrev, hNext, hn, width);
            AssertBits(rg, g, $"gates at {width}");
            AssertBits(rH, hNext, $"h at {width}");
            AssertBits(rHn, hn, $"hn at {width}");

            float[] g2 = (float[])gates.Clone(), h2 = new float[h];
            GruCell.ResetAfter(g2, recurrent, bias, newBias, hPrev, h2, default, width);
            AssertBits(rH, h2, $"h without hn at {width}");
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public unsafe void Lstm_gradient_is_the_pass_by_pass_chain_at_every_width(int h)
    {
        var random = new TestRandom((ulong)(3000 + h));
        float[] gates = Inputs(random, 4 * h, 1f), tanhC = Inputs(random, h, 1f), cPrev = Inputs(random, h, 3f);
        float[] dhCell = Inputs(random, h, 2f), dc = Inputs(random, h, 2f);

        // Reference: the span operations backward ran before the fused pass (dG in PyTorch's order i, f, g, o).
        float[] rdG = new float[4 * h], rdc = (float[])dc.Clone(), rdcPrev = new float[h];
        Span<float> i = gates.AsSpan(0, h), f = gates.AsSpan(h, h), o = gates.AsSpan(2 * h, h), g = gates.AsSpan(3 * h, h);
        Span<float> dI = rdG.AsSpan(0, h), dF = rdG.AsSpan(h, h), dG = rdG.AsSpan(2 * h, h), dO = rdG.AsSpan(3 * h, h);
        TensorPrimitives.Multiply(dhCell, tanhC, dO);
        Activations.Backward(ActivationKind.Sigmoid, o, dO, dO, VectorWidth.Scalar);
        TensorPrimitives.Multiply(dhCell, o, dI);
        Activations.BackwardAdd(ActivationKind.Tanh, tanhC, dI, rdc, VectorWidth.Scalar);
        TensorPrimitives.Multiply(rdc, g, dI);
        Activations.Backward(ActivationKind.Sigmoid, i, dI, dI, VectorWidth.Scalar);
        TensorPrimitives.Multiply(rdc, cPrev, dF);
        Activations.Backward(ActivationKind.Sigmoid, f, dF, dF, VectorWidth.Scalar);
        TensorPrimitives.Multiply(rdc, i, dG);
        Activations.Backward(ActivationKind.Tanh, g, dG, dG, VectorWidth.Scalar);
        TensorPrimitives.Multiply(rdc, f, rdcPrev);

        foreach (VectorWidth width in ActivationTestKit.Widths)
        {
            float[] gradients = new float[4 * h], dcPrev = new float[h], dcIn = (float[])dc.Clone();
            fixed (float* pg = gates, pt = tanhC, pc = cPrev, pdh = dhCell, pdc = dcIn, pdG = gradients, pdcPrev = dcPrev)
            {
                LstmCell.Backward(pg, pt, pc, pdh, pdc, pdG, pdcPrev, h, width);
            }

            AssertBits(rdG, gradients, $"dG at {width}");
            AssertBits(rdcPrev, dcPrev, $"dc_(t-1) at {width}");
            AssertBits(dc, dcIn, $"dc (read only) at {width}");
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public unsafe void Gru_reset_after_gradient_is_the_pass_by_pass_chain_at_every_width(int h)
    {
        var random = new TestRandom((ulong)(4000 + h));
        float[] gates = Inputs(random, 3 * h, 1f), hn = Inputs(random, h, 3f), hPrev = Inputs(random, h, 1f), dh = Inputs(random, h, 2f);

        // Reference: the span operations backward ran before the fused pass.
        float[] rdG = new float[3 * h], rdGh = new float[3 * h], rDirect = new float[h];
        Span<float> r = gates.AsSpan(0, h), z = gates.AsSpan(h, h), n = gates.AsSpan(2 * h, h);
        Span<float> dr = rdG.AsSpan(0, h), dz = rdG.AsSpan(h, h), dn = rdG.AsSpan(2 * h, h);
        TensorPrimitives.Subtract(hPrev, n, dz);
        TensorPrimitives.Multiply(dh, dz, dz);
        Activations.Backward(ActivationKind.Sigmoid, z, dz, dz, VectorWidth.Scalar);
        TensorPrimitives.Multiply(dh, z, rDirect);
        TensorPrimitives.Subtract(dh, rDirect, dn);
        Activations.Backward(ActivationKind.Tanh, n, dn, dn, VectorWidth.Scalar);
        TensorPrimitives.Multiply(dn, hn, dr);
        Activations.Backward(ActivationKind.Sigmoid, r, dr, dr, VectorWidth.Scalar);
        rdG.AsSpan(0, 2 * h).CopyTo(rdGh);
        TensorPrimitives.Multiply(dn, r, rdGh.AsSpan(2 * h, h));

        foreach (VectorWidth width in ActivationTestKit.Widths)
        {
            float[] dG = new float[3 * h], dGh = new float[3 * h], direct = new float[h];
            fixed (float* pg = gates, phn = hn, php = hPrev, pdh = dh, pdG = dG, pdGh = dGh, pdirect = direct)
            {
                GruCell.ResetAfterBackward(pg, phn, php, pdh, pdG, pdGh, pdirect, h, width);
            }

            AssertBits(rdG, dG, $"dG at {width}");
            AssertBits(rdGh, dGh, $"dGh at {width}");
            AssertBits(rDirect, direct, $"direct at {width}");
        }
    }

    /// <summary>Random values in ±<paramref name="scale"/> with special values sprinkled in (NaN, ±∞, ±0, huge, tiny, subnormal).</summary>
    private static float[] Inputs(TestRandom random, int length, float scale)
    {
        float[] specials = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 1e30f, -1e30f, 1e-40f, -3e-39f, 0.62f, -0.63f, 90f, -105f];
        float[] data = random.Array(length, -scale, scale);
        for (int i = 0; i < length; i++)
        {
            if (random.Next(6) == 0)
            {
                data[i] = specials[random.Next(specials.Length)];
            }
        }

        return data;
    }

    private static void AssertBits(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(
                ActivationTestKit.Bits(expected[i]) == ActivationTestKit.Bits(actual[i]),
                $"{what}, element {i} of {expected.Length}: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }
}
