using System.Numerics;
using System.Runtime.InteropServices;

namespace Rnn.Simd.Import.Onnx;

/// <summary>
/// Element-wise functions for the graph operators that must give the same bits on every instruction set: the
/// natural logarithm as a range reduction and a polynomial (the classic single-precision one: x = m·2^e with
/// m in [√½, √2), log(1 + f) ≈ f − f²/2 + f³·P(f)), written once with <see cref="Vector{T}"/> so that each lane
/// runs the same IEEE operations in the same order at any width, and as the same operations one value at a time
/// for the tail. Values that are not positive normal floats (0, subnormals, negatives, ∞, NaN) go to
/// <see cref="MathF.Log(float)"/>, which gives ONNX's answers for them.
/// </summary>
internal static class OnnxMath
{
    private const float SmallestNormal = 1.17549435e-38f;
    private const float SqrtHalf = 0.707106781186547524f;
    private const float C0 = 7.0376836292e-2f, C1 = -1.1514610310e-1f, C2 = 1.1676998740e-1f, C3 = -1.2420140846e-1f, C4 = 1.4249322787e-1f;
    private const float C5 = -1.6668057665e-1f, C6 = 2.0000714765e-1f, C7 = -2.4999993993e-1f, C8 = 3.3333331174e-1f;
    private const float Ln2Low = -2.12194440e-4f, Ln2High = 0.693359375f;

    /// <summary>r = ln(x), element by element.</summary>
    public static void Log(ReadOnlySpan<float> x, Span<float> r)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            ref float from = ref MemoryMarshal.GetReference(x);
            ref float to = ref MemoryMarshal.GetReference(r);
            _ = r[x.Length - 1];
            var smallest = new Vector<float>(SmallestNormal);
            var largest = new Vector<float>(float.MaxValue);
            for (; i <= x.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                Vector<float> v = Vector.LoadUnsafe(ref from, (nuint)i);
                if (Vector.LessThanAny(v, smallest) || Vector.GreaterThanAny(v, largest) || !Vector.EqualsAll(v, v))
                {
                    for (int k = i; k < i + Vector<float>.Count; k++)
                    {
                        r[k] = Log(x[k]);
                    }

                    continue;
                }

                Vector<int> bits = Vector.AsVectorInt32(v);
                Vector<float> e = Vector.ConvertToSingle(Vector.ShiftRightArithmetic(bits, 23) - new Vector<int>(126));
                Vector<float> m = Vector.AsVectorSingle((bits & new Vector<int>(0x007FFFFF)) | new Vector<int>(0x3F000000));
                Vector<int> low = Vector.LessThan(m, new Vector<float>(SqrtHalf));
                Vector<float> one = Vector<float>.One;
                Vector<float> f = Vector.ConditionalSelect(low, (m + m) - one, m - one);
                e -= Vector.ConditionalSelect(low, one, Vector<float>.Zero);
                Vector<float> z = f * f;
                Vector<float> y = (new Vector<float>(C0) * f) + new Vector<float>(C1);
                y = (y * f) + new Vector<float>(C2);
                y = (y * f) + new Vector<float>(C3);
                y = (y * f) + new Vector<float>(C4);
                y = (y * f) + new Vector<float>(C5);
                y = (y * f) + new Vector<float>(C6);
                y = (y * f) + new Vector<float>(C7);
                y = (y * f) + new Vector<float>(C8);
                y = y * f * z;
                y += new Vector<float>(Ln2Low) * e;
                y += new Vector<float>(-0.5f) * z;
                Vector<float> result = f + y;
                result += new Vector<float>(Ln2High) * e;
                result.StoreUnsafe(ref to, (nuint)i);
            }
        }

        for (; i < x.Length; i++)
        {
            r[i] = Log(x[i]);
        }
    }

    /// <summary>ln(x) by the same operations as a lane of <see cref="Log(ReadOnlySpan{float}, Span{float})"/>.</summary>
    public static float Log(float x)
    {
        if (!(x >= SmallestNormal && x <= float.MaxValue))
        {
            return MathF.Log(x);
        }

        int bits = BitConverter.SingleToInt32Bits(x);
        float e = (bits >> 23) - 126;
        float m = BitConverter.Int32BitsToSingle((bits & 0x007FFFFF) | 0x3F000000);
        bool low = m < SqrtHalf;
        float f = low ? (m + m) - 1f : m - 1f;
        e -= low ? 1f : 0f;
        float z = f * f;
        float y = (C0 * f) + C1;
        y = (y * f) + C2;
        y = (y * f) + C3;
        y = (y * f) + C4;
        y = (y * f) + C5;
        y = (y * f) + C6;
        y = (y * f) + C7;
        y = (y * f) + C8;
        y = y * f * z;
        y += Ln2Low * e;
        y += -0.5f * z;
        float result = f + y;
        result += Ln2High * e;
        return result;
    }
}
