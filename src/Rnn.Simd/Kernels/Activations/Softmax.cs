using System.Diagnostics;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>
/// Row-wise softmax and log-softmax, forward and backward, over row-major matrices with row strides.
/// Callers validate; only Debug.Assert here. Every output is the same span as an input (same start,
/// same stride) or disjoint from the inputs.
/// </summary>
/// <remarks>
/// Every row sum goes through <see cref="RowDriver.MapReduce{TOp, TReduce}"/> (16 partials in a fixed
/// order), and every element-wise step through operators that compute the same bits at every width,
/// so the results are bit-identical at every width. NaN/∞ follow from IEEE arithmetic and match PyTorch:
/// a NaN or +∞ anywhere in a row makes the whole row NaN (max = NaN, or +∞ − +∞ = NaN), and so does a
/// row that is all −∞ (−∞ − (−∞) = NaN); −∞ elements in a row with a finite max give 0 (log-softmax: −∞).
/// </remarks>
internal static class Softmax
{
    /// <summary>y = exp(x − max x) / Σ exp(x − max x), per row.</summary>
    public static void ForwardRows(ReadOnlySpan<float> x, int xStride, Span<float> y, int yStride, int rows, int cols, VectorWidth width)
    {
        Debug.Assert(rows >= 0 && cols > 0, "Empty matrices return before they get here.");
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> xRow = x.Slice(r * xStride, cols);
            Span<float> yRow = y.Slice(r * yStride, cols);

            float max = RowDriver.MapReduce<FirstOperator, MaxReduction>(default, xRow, xRow, default, width);

            // y = e^(x − max) stored while summing; x is read before y is written at each element.
            float sum = RowDriver.MapReduce<ExpShiftOperator, SumReduction>(new ExpShiftOperator(max), xRow, xRow, yRow, width);

            // sum ≥ 1 (the max element contributes e^0) unless the row is NaN.
            RowDriver.Map(new DivideOperator(sum), yRow, yRow, yRow, width);
        }
    }

    /// <summary>y = (x − max x) − log Σ exp(x − max x), per row.</summary>
    /// <remarks>log runs once per row in double, (float)Math.Log((double)sum): correctly rounded in practice and the same in every mode.</remarks>
    public static void LogForwardRows(ReadOnlySpan<float> x, int xStride, Span<float> y, int yStride, int rows, int cols, VectorWidth width)
    {
        Debug.Assert(rows >= 0 && cols > 0, "Empty matrices return before they get here.");
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> xRow = x.Slice(r * xStride, cols);
            Span<float> yRow = y.Slice(r * yStride, cols);

            float max = RowDriver.MapReduce<FirstOperator, MaxReduction>(default, xRow, xRow, default, width);

            // Nothing is stored: x must survive until the last pass when y is x (in place).
            float sum = RowDriver.MapReduce<ExpShiftOperator, SumReduction>(new ExpShiftOperator(max), xRow, xRow, default, width);
            float logSum = (float)Math.Log(sum);

            RowDriver.Map(new LogSoftmaxOutputOperator(max, logSum), xRow, xRow, yRow, width);
        }
    }

    /// <summary>dx = y ⊙ (dy − Σ dy ⊙ y), per row, from the softmax output y.</summary>
    public static void BackwardRows(
        ReadOnlySpan<float> y, int yStride, ReadOnlySpan<float> dy, int dyStride, Span<float> dx, int dxStride, int rows, int cols, VectorWidth width)
    {
        Debug.Assert(rows >= 0 && cols > 0, "Empty matrices return before they get here.");
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> yRow = y.Slice(r * yStride, cols);
            ReadOnlySpan<float> dyRow = dy.Slice(r * dyStride, cols);
            Span<float> dxRow = dx.Slice(r * dxStride, cols);

            float dot = RowDriver.MapReduce<ProductOperator, SumReduction>(default, dyRow, yRow, default, width);
            RowDriver.Map(new SoftmaxGradientOperator(dot), dyRow, yRow, dxRow, width);
        }
    }

    /// <summary>dx = dy − exp(y) · Σ dy, per row, from the log-softmax output y.</summary>
    public static void LogBackwardRows(
        ReadOnlySpan<float> y, int yStride, ReadOnlySpan<float> dy, int dyStride, Span<float> dx, int dxStride, int rows, int cols, VectorWidth width)
    {
        Debug.Assert(rows >= 0 && cols > 0, "Empty matrices return before they get here.");
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> yRow = y.Slice(r * yStride, cols);
            ReadOnlySpan<float> dyRow = dy.Slice(r * dyStride, cols);
            Span<float> dxRow = dx.Slice(r * dxStride, cols);

            float sum = RowDriver.MapReduce<FirstOperator, SumReduction>(default, dyRow, dyRow, default, width);
            RowDriver.Map(new LogSoftmaxGradientOperator(sum), dyRow, yRow, dxRow, width);
        }
    }
}
