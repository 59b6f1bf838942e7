using Rnn.Simd.Kernels;
using Rnn.Simd.Kernels.Gemm;

namespace Rnn.Simd.IO;

/// <summary>
/// How a checkpoint holds a reduced model's recurrent weight matrices (<see cref="CheckpointContent.WeightPrecision"/>):
/// the metadata key <c>weight_precision</c> (<c>bfloat16</c> or <c>int8</c>; absent in a float32 checkpoint), each
/// <c>weight_ih_l…</c>, <c>weight_hh_l…</c> and <c>weight_hr_l…</c> tensor as BF16, or as I8 codes with its F32 row
/// scales under <c>scale/&lt;name&gt;</c>, rounded exactly as <see cref="Layers.RecurrentNetwork.WithWeightPrecision"/>
/// rounds them.
/// </summary>
internal static class CheckpointPrecision
{
    /// <summary>The metadata key.</summary>
    public const string Key = "weight_precision";

    /// <summary>Prefix of an int8 matrix's scales: <c>scale/rnn.weight_ih_l0</c> F32 [rows].</summary>
    public const string ScalePrefix = "scale/";

    /// <summary>The metadata spelling of <paramref name="precision"/>.</summary>
    public static string Name(WeightPrecision precision) => precision switch
    {
        WeightPrecision.BFloat16 => "bfloat16",
        WeightPrecision.Int8 => "int8",
        _ => "float32",
    };

    /// <summary>Reads the metadata spelling (exact, lower case).</summary>
    public static bool TryParse(string text, out WeightPrecision precision)
    {
        foreach (WeightPrecision p in Enum.GetValues<WeightPrecision>())
        {
            if (Name(p) == text)
            {
                precision = p;
                return true;
            }
        }

        precision = WeightPrecision.Float32;
        return false;
    }

    /// <summary>A recurrent weight matrix by PyTorch's name: <c>weight_ih_l…</c>, <c>weight_hh_l…</c> or <c>weight_hr_l…</c>, after any prefix.</summary>
    public static bool IsRecurrentMatrix(string name)
    {
        string bare = name[(name.LastIndexOf('.') + 1)..];
        return bare.StartsWith("weight_ih_l", StringComparison.Ordinal) || bare.StartsWith("weight_hh_l", StringComparison.Ordinal)
            || bare.StartsWith("weight_hr_l", StringComparison.Ordinal);
    }

    /// <summary>
    /// Adds <paramref name="values"/> (a recurrent matrix, <paramref name="shape"/>[0] rows) at <paramref name="precision"/>:
    /// BF16 (each value rounded to nearest even), or I8 codes round(w/s) with s = max|w|/127 per row and the scales as
    /// <c>scale/&lt;name&gt;</c>, where <paramref name="name"/> is the parameter's name and <paramref name="tensor"/> its tensor's.
    /// </summary>
    public static void Add(SafeTensorsWriter writer, string tensor, string name, ReadOnlySpan<float> values, long[] shape, WeightPrecision precision)
    {
        if (precision == WeightPrecision.BFloat16)
        {
            writer.AddBFloat16(tensor, values, shape);
            return;
        }

        int rows = (int)shape[0], columns = values.Length / rows;
        float[] scales = new float[rows];
        sbyte[] codes = new sbyte[values.Length];
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = values.Slice(r * columns, columns);
            float max = 0f;
            foreach (float w in row)
            {
                max = MathF.Max(max, MathF.Abs(w));
            }

            scales[r] = ReducedWeights.Int8Scale(max);
            for (int c = 0; c < columns; c++)
            {
                codes[(r * columns) + c] = ReducedWeights.ToInt8(row[c], scales[r]);
            }
        }

        writer.AddInt8(tensor, codes, shape);
        writer.Add(ScalePrefix + name, scales, rows);
    }
}
