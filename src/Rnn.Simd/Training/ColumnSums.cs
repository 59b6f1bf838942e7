using System.Numerics.Tensors;

namespace Rnn.Simd.Training;

/// <summary>Bias gradients: the column sums of a pre-activation gradient, rows summed in order.</summary>
internal static class ColumnSums
{
    /// <summary>
    /// destination[j] += Σ_r matrix[r, j] over <paramref name="rows"/> rows of <paramref name="cols"/> features. The sum is
    /// formed in <paramref name="sum"/> [cols] from +0, row after row, and added into <paramref name="destination"/> last,
    /// so two calls into zeros give exactly twice one call and the bits never depend on the vector width.
    /// </summary>
    public static void Add(ReadOnlySpan<float> matrix, int rows, int cols, Span<float> sum, Span<float> destination)
    {
        sum = sum[..cols];
        sum.Clear();
        for (int r = 0; r < rows; r++)
        {
            TensorPrimitives.Add(sum, matrix.Slice(r * cols, cols), sum);
        }

        TensorPrimitives.Add(destination, sum, destination);
    }
}
