using Rnn.Simd.Internal;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>
/// The entry points of the activation kernels: element-wise activations and their derivatives,
/// row-wise softmax and log-softmax. Arguments are validated here, once per call; the kernels behind
/// only assert. Nothing allocates.
/// </summary>
/// <remarks>
/// <para>
/// Determinism: every result is bit-identical at every vector width (Vector512, Vector256, Vector128,
/// scalar), so also under DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0 and DOTNET_EnableHWIntrinsic=0
/// (DESIGN.md §4). Exp, sigmoid and tanh are our own Cephes-based kernels (≤ 2 ulp), not MathF or
/// TensorPrimitives, whose scalar fallbacks give other bits. NaN payloads are not specified: a NaN
/// result is some NaN.
/// </para>
/// <para>
/// Aliasing: an output may be the very same span as an input (same start, and for matrices the same
/// row stride): that is in place. Any other overlap throws <see cref="ArgumentException"/>.
/// </para>
/// <para>
/// Every overload without a <see cref="VectorWidth"/> runs at <see cref="Isa.Best"/>; the overloads
/// with one are for tests and benchmarks (every width is correct everywhere, if slow where it is
/// emulated).
/// </para>
/// </remarks>
internal static class Activations
{
    /// <summary>y[i] = f(x[i]) for the activation <paramref name="kind"/>.</summary>
    /// <param name="kind">The activation f.</param>
    /// <param name="x">The inputs.</param>
    /// <param name="y">The outputs, as long as <paramref name="x"/>; may be <paramref name="x"/> itself.</param>
    /// <remarks>
    /// Sigmoid: σ(±0) = 0.5, σ(+∞) = 1, σ(−∞) = 0, denormal outputs for x ∈ [−103.9, −87.3].
    /// Tanh: tanh(±0) = ±0, tanh(±∞) = ±1. Relu: relu(−0) = +0, relu(NaN) = NaN. Every f maps NaN to NaN.
    /// </remarks>
    public static void Forward(ActivationKind kind, ReadOnlySpan<float> x, Span<float> y) => Forward(kind, x, y, Isa.Best);

    /// <inheritdoc cref="Forward(ActivationKind, ReadOnlySpan{float}, Span{float})"/>
    /// <param name="kind">The activation f.</param>
    /// <param name="x">The inputs.</param>
    /// <param name="y">The outputs, as long as <paramref name="x"/>; may be <paramref name="x"/> itself.</param>
    /// <param name="width">The vector width to run at.</param>
    internal static void Forward(ActivationKind kind, ReadOnlySpan<float> x, Span<float> y, VectorWidth width)
    {
        ValidateWidth(width);
        ValidateUnary(x, y, nameof(y));

        switch (kind)
        {
            case ActivationKind.Identity:
                x.CopyTo(y);
                break;
            case ActivationKind.Sigmoid:
                ElementwiseDriver.Map<SigmoidOperator>(x, y, width);
                break;
            case ActivationKind.Tanh:
                ElementwiseDriver.Map<TanhOperator>(x, y, width);
                break;
            case ActivationKind.Relu:
                ElementwiseDriver.Map<ReluOperator>(x, y, width);
                break;
            default:
                ThrowInvalidKind(kind);
                break;
        }
    }

    /// <summary>y[i] = e^x[i] (NaN → NaN, +∞ → +∞, −∞ → +0; ≤ 2 ulp, denormal outputs included).</summary>
    /// <param name="x">The inputs.</param>
    /// <param name="y">The outputs, as long as <paramref name="x"/>; may be <paramref name="x"/> itself.</param>
    public static void Exp(ReadOnlySpan<float> x, Span<float> y) => Exp(x, y, Isa.Best);

    /// <inheritdoc cref="Exp(ReadOnlySpan{float}, Span{float})"/>
    /// <param name="x">The inputs.</param>
    /// <param name="y">The outputs, as long as <paramref name="x"/>; may be <paramref name="x"/> itself.</param>
    /// <param name="width">The vector width to run at.</param>
    internal static void Exp(ReadOnlySpan<float> x, Span<float> y, VectorWidth width)
    {
        ValidateWidth(width);
        ValidateUnary(x, y, nameof(y));
        ElementwiseDriver.Map<ExpOperator>(x, y, width);
    }

    /// <summary>dx[i] = dy[i] · f'(x[i]), with f' written in terms of the forward output y[i] = f(x[i]).</summary>
    /// <param name="kind">The activation f.</param>
    /// <param name="y">The forward outputs f(x).</param>
    /// <param name="dy">The gradient with respect to y.</param>
    /// <param name="dx">Receives the gradient with respect to x (overwritten); may be <paramref name="y"/> or <paramref name="dy"/> itself.</param>
    /// <remarks>
    /// f'(y): sigmoid y(1 − y), tanh 1 − y² (one FMA), relu (y &gt; 0 ? 1 : 0), identity 1 (a copy of dy).
    /// The product dy · f'(y) is formed even where f' = 0, so a non-finite dy gives NaN there.
    /// </remarks>
    public static void Backward(ActivationKind kind, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx) =>
        Backward(kind, y, dy, dx, Isa.Best);

    /// <inheritdoc cref="Backward(ActivationKind, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>
    /// <param name="kind">The activation f.</param>
    /// <param name="y">The forward outputs f(x).</param>
    /// <param name="dy">The gradient with respect to y.</param>
    /// <param name="dx">Receives the gradient with respect to x (overwritten); may be <paramref name="y"/> or <paramref name="dy"/> itself.</param>
    /// <param name="width">The vector width to run at.</param>
    internal static void Backward(ActivationKind kind, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, VectorWidth width) =>
        BackwardCore(kind, y, dy, dx, accumulate: false, width);

    /// <summary>dx[i] += dy[i] · f'(x[i]): <see cref="Backward(ActivationKind, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>, accumulating.</summary>
    /// <param name="kind">The activation f.</param>
    /// <param name="y">The forward outputs f(x).</param>
    /// <param name="dy">The gradient with respect to y.</param>
    /// <param name="dx">The gradient with respect to x, added into; may be <paramref name="y"/> or <paramref name="dy"/> itself.</param>
    /// <remarks>
    /// The same bits as computing the overwrite version into a temporary and adding it: dx + (dy · f'(y)),
    /// two roundings, no FMA. So two calls into zeros give exactly twice one call.
    /// </remarks>
    public static void BackwardAdd(ActivationKind kind, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx) =>
        BackwardAdd(kind, y, dy, dx, Isa.Best);

    /// <inheritdoc cref="BackwardAdd(ActivationKind, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>
    /// <param name="kind">The activation f.</param>
    /// <param name="y">The forward outputs f(x).</param>
    /// <param name="dy">The gradient with respect to y.</param>
    /// <param name="dx">The gradient with respect to x, added into; may be <paramref name="y"/> or <paramref name="dy"/> itself.</param>
    /// <param name="width">The vector width to run at.</param>
    internal static void BackwardAdd(ActivationKind kind, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, VectorWidth width) =>
        BackwardCore(kind, y, dy, dx, accumulate: true, width);

    /// <summary>Row-wise softmax of a rows × cols matrix: y = exp(x − max x) / Σ exp(x − max x) along each row.</summary>
    /// <param name="x">The inputs, row r starting at r · <paramref name="xStride"/>.</param>
    /// <param name="xStride">The distance between rows of <paramref name="x"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="y">The outputs; may be <paramref name="x"/> itself with the same stride. Elements between rows are not touched.</param>
    /// <param name="yStride">The distance between rows of <paramref name="y"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="rows">The number of rows, ≥ 0.</param>
    /// <param name="cols">The number of columns (the softmax dimension), ≥ 0.</param>
    /// <remarks>
    /// The max is subtracted first for range. A row with a NaN or +∞ anywhere, or with every element −∞,
    /// becomes all NaN (as PyTorch). The row sum has a fixed order, so results are bit-identical at every width.
    /// Accuracy: a few ulps (the sum's share grows with √(cols/16)), plus the rounding of x − max to float,
    /// which every float softmax shares: up to |x − max| ulps on outputs far below the row's max.
    /// </remarks>
    public static void SoftmaxRows(ReadOnlySpan<float> x, int xStride, Span<float> y, int yStride, int rows, int cols) =>
        SoftmaxRows(x, xStride, y, yStride, rows, cols, Isa.Best);

    /// <inheritdoc cref="SoftmaxRows(ReadOnlySpan{float}, int, Span{float}, int, int, int)"/>
    /// <param name="x">The inputs, row r starting at r · <paramref name="xStride"/>.</param>
    /// <param name="xStride">The distance between rows of <paramref name="x"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="y">The outputs; may be <paramref name="x"/> itself with the same stride. Elements between rows are not touched.</param>
    /// <param name="yStride">The distance between rows of <paramref name="y"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="rows">The number of rows, ≥ 0.</param>
    /// <param name="cols">The number of columns (the softmax dimension), ≥ 0.</param>
    /// <param name="width">The vector width to run at.</param>
    internal static void SoftmaxRows(ReadOnlySpan<float> x, int xStride, Span<float> y, int yStride, int rows, int cols, VectorWidth width)
    {
        if (ValidateRowsForward(x, xStride, y, yStride, rows, cols, width))
        {
            Softmax.ForwardRows(x, xStride, y, yStride, rows, cols, width);
        }
    }

    /// <summary>Row-wise log-softmax of a rows × cols matrix: y = (x − max x) − log Σ exp(x − max x) along each row.</summary>
    /// <param name="x">The inputs, row r starting at r · <paramref name="xStride"/>.</param>
    /// <param name="xStride">The distance between rows of <paramref name="x"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="y">The outputs; may be <paramref name="x"/> itself with the same stride. Elements between rows are not touched.</param>
    /// <param name="yStride">The distance between rows of <paramref name="y"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="rows">The number of rows, ≥ 0.</param>
    /// <param name="cols">The number of columns (the softmax dimension), ≥ 0.</param>
    /// <remarks>
    /// NaN and ∞ as <see cref="SoftmaxRows(ReadOnlySpan{float}, int, Span{float}, int, int, int)"/>; a −∞ element in an
    /// otherwise finite row gives −∞. log runs once per row, in double.
    /// </remarks>
    public static void LogSoftmaxRows(ReadOnlySpan<float> x, int xStride, Span<float> y, int yStride, int rows, int cols) =>
        LogSoftmaxRows(x, xStride, y, yStride, rows, cols, Isa.Best);

    /// <inheritdoc cref="LogSoftmaxRows(ReadOnlySpan{float}, int, Span{float}, int, int, int)"/>
    /// <param name="x">The inputs, row r starting at r · <paramref name="xStride"/>.</param>
    /// <param name="xStride">The distance between rows of <paramref name="x"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="y">The outputs; may be <paramref name="x"/> itself with the same stride. Elements between rows are not touched.</param>
    /// <param name="yStride">The distance between rows of <paramref name="y"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="rows">The number of rows, ≥ 0.</param>
    /// <param name="cols">The number of columns (the softmax dimension), ≥ 0.</param>
    /// <param name="width">The vector width to run at.</param>
    internal static void LogSoftmaxRows(ReadOnlySpan<float> x, int xStride, Span<float> y, int yStride, int rows, int cols, VectorWidth width)
    {
        if (ValidateRowsForward(x, xStride, y, yStride, rows, cols, width))
        {
            Softmax.LogForwardRows(x, xStride, y, yStride, rows, cols, width);
        }
    }

    /// <summary>The softmax backward, per row: dx = y ⊙ (dy − Σ dy ⊙ y), from the softmax output y. Overwrites dx.</summary>
    /// <param name="y">The softmax outputs, row r starting at r · <paramref name="yStride"/>.</param>
    /// <param name="yStride">The distance between rows of <paramref name="y"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="dy">The gradient with respect to y.</param>
    /// <param name="dyStride">The distance between rows of <paramref name="dy"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="dx">Receives the gradient with respect to x; may be <paramref name="y"/> or <paramref name="dy"/> itself with the same stride.</param>
    /// <param name="dxStride">The distance between rows of <paramref name="dx"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="rows">The number of rows, ≥ 0.</param>
    /// <param name="cols">The number of columns, ≥ 0.</param>
    public static void SoftmaxRowsBackward(
        ReadOnlySpan<float> y, int yStride, ReadOnlySpan<float> dy, int dyStride, Span<float> dx, int dxStride, int rows, int cols) =>
        SoftmaxRowsBackward(y, yStride, dy, dyStride, dx, dxStride, rows, cols, Isa.Best);

    /// <inheritdoc cref="SoftmaxRowsBackward(ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, Span{float}, int, int, int)"/>
    /// <param name="y">The softmax outputs, row r starting at r · <paramref name="yStride"/>.</param>
    /// <param name="yStride">The distance between rows of <paramref name="y"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="dy">The gradient with respect to y.</param>
    /// <param name="dyStride">The distance between rows of <paramref name="dy"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="dx">Receives the gradient with respect to x; may be <paramref name="y"/> or <paramref name="dy"/> itself with the same stride.</param>
    /// <param name="dxStride">The distance between rows of <paramref name="dx"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="rows">The number of rows, ≥ 0.</param>
    /// <param name="cols">The number of columns, ≥ 0.</param>
    /// <param name="width">The vector width to run at.</param>
    internal static void SoftmaxRowsBackward(
        ReadOnlySpan<float> y, int yStride, ReadOnlySpan<float> dy, int dyStride, Span<float> dx, int dxStride, int rows, int cols, VectorWidth width)
    {
        if (ValidateRowsBackward(y, yStride, dy, dyStride, dx, dxStride, rows, cols, width))
        {
            Softmax.BackwardRows(y, yStride, dy, dyStride, dx, dxStride, rows, cols, width);
        }
    }

    /// <summary>The log-softmax backward, per row: dx = dy − exp(y) · Σ dy, from the log-softmax output y. Overwrites dx.</summary>
    /// <param name="y">The log-softmax outputs, row r starting at r · <paramref name="yStride"/>.</param>
    /// <param name="yStride">The distance between rows of <paramref name="y"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="dy">The gradient with respect to y.</param>
    /// <param name="dyStride">The distance between rows of <paramref name="dy"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="dx">Receives the gradient with respect to x; may be <paramref name="y"/> or <paramref name="dy"/> itself with the same stride.</param>
    /// <param name="dxStride">The distance between rows of <paramref name="dx"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="rows">The number of rows, ≥ 0.</param>
    /// <param name="cols">The number of columns, ≥ 0.</param>
    public static void LogSoftmaxRowsBackward(
        ReadOnlySpan<float> y, int yStride, ReadOnlySpan<float> dy, int dyStride, Span<float> dx, int dxStride, int rows, int cols) =>
        LogSoftmaxRowsBackward(y, yStride, dy, dyStride, dx, dxStride, rows, cols, Isa.Best);

    /// <inheritdoc cref="LogSoftmaxRowsBackward(ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, Span{float}, int, int, int)"/>
    /// <param name="y">The log-softmax outputs, row r starting at r · <paramref name="yStride"/>.</param>
    /// <param name="yStride">The distance between rows of <paramref name="y"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="dy">The gradient with respect to y.</param>
    /// <param name="dyStride">The distance between rows of <paramref name="dy"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="dx">Receives the gradient with respect to x; may be <paramref name="y"/> or <paramref name="dy"/> itself with the same stride.</param>
    /// <param name="dxStride">The distance between rows of <paramref name="dx"/>, ≥ <paramref name="cols"/>.</param>
    /// <param name="rows">The number of rows, ≥ 0.</param>
    /// <param name="cols">The number of columns, ≥ 0.</param>
    /// <param name="width">The vector width to run at.</param>
    internal static void LogSoftmaxRowsBackward(
        ReadOnlySpan<float> y, int yStride, ReadOnlySpan<float> dy, int dyStride, Span<float> dx, int dxStride, int rows, int cols, VectorWidth width)
    {
        if (ValidateRowsBackward(y, yStride, dy, dyStride, dx, dxStride, rows, cols, width))
        {
            Softmax.LogBackwardRows(y, yStride, dy, dyStride, dx, dxStride, rows, cols, width);
        }
    }

    private static void BackwardCore(ActivationKind kind, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, bool accumulate, VectorWidth width)
    {
        ValidateWidth(width);
        if (dy.Length != y.Length)
        {
            ThrowHelper.Argument(nameof(dy), $"dy has {dy.Length} elements; y has {y.Length}.");
        }

        ValidateUnary(y, dx, nameof(dx));
        ValidateAlias(dy, dx, nameof(dx));

        switch (kind)
        {
            case ActivationKind.Identity when !accumulate:
                dy.CopyTo(dx);
                break;
            case ActivationKind.Identity:
                ElementwiseDriver.MapGradient<IdentityDerivativeOperator>(y, dy, dx, accumulate, width);
                break;
            case ActivationKind.Sigmoid:
                ElementwiseDriver.MapGradient<SigmoidDerivativeOperator>(y, dy, dx, accumulate, width);
                break;
            case ActivationKind.Tanh:
                ElementwiseDriver.MapGradient<TanhDerivativeOperator>(y, dy, dx, accumulate, width);
                break;
            case ActivationKind.Relu:
                ElementwiseDriver.MapGradient<ReluDerivativeOperator>(y, dy, dx, accumulate, width);
                break;
            default:
                ThrowInvalidKind(kind);
                break;
        }
    }

    private static void ValidateWidth(VectorWidth width)
    {
        if (width is not (VectorWidth.Scalar or VectorWidth.V128 or VectorWidth.V256 or VectorWidth.V512))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(width), $"Not a vector width: {(int)width}.");
        }
    }

    private static void ThrowInvalidKind(ActivationKind kind) =>
        ThrowHelper.ArgumentOutOfRange(nameof(kind), $"Not an activation: {(int)kind}.");

    // output must be as long as input, and either the same span or disjoint.
    private static void ValidateUnary(ReadOnlySpan<float> input, ReadOnlySpan<float> output, string outputName)
    {
        if (output.Length != input.Length)
        {
            ThrowHelper.Argument(outputName, $"{outputName} has {output.Length} elements; the input has {input.Length}.");
        }

        ValidateAlias(input, output, outputName);
    }

    private static void ValidateAlias(ReadOnlySpan<float> input, ReadOnlySpan<float> output, string outputName)
    {
        if (input.Overlaps(output, out int offset) && offset != 0)
        {
            ThrowHelper.Argument(outputName, $"{outputName} overlaps an input at an offset of {offset} elements; it must be the same span (in place) or disjoint.");
        }
    }

    // Returns false when there is nothing to do (no rows or no columns).
    private static bool ValidateRowsForward(ReadOnlySpan<float> x, int xStride, ReadOnlySpan<float> y, int yStride, int rows, int cols, VectorWidth width)
    {
        ValidateWidth(width);
        ThrowHelper.ThrowIfNegative(rows, nameof(rows));
        ThrowHelper.ThrowIfNegative(cols, nameof(cols));
        ThrowHelper.ThrowIfMatrixDoesNotFit(rows, cols, xStride, x.Length, nameof(x), nameof(xStride));
        ThrowHelper.ThrowIfMatrixDoesNotFit(rows, cols, yStride, y.Length, nameof(y), nameof(yStride));
        ValidateMatrixAlias(x, xStride, y, yStride, rows, cols, nameof(y));
        return rows > 0 && cols > 0;
    }

    private static bool ValidateRowsBackward(
        ReadOnlySpan<float> y, int yStride, ReadOnlySpan<float> dy, int dyStride, ReadOnlySpan<float> dx, int dxStride, int rows, int cols, VectorWidth width)
    {
        ValidateWidth(width);
        ThrowHelper.ThrowIfNegative(rows, nameof(rows));
        ThrowHelper.ThrowIfNegative(cols, nameof(cols));
        ThrowHelper.ThrowIfMatrixDoesNotFit(rows, cols, yStride, y.Length, nameof(y), nameof(yStride));
        ThrowHelper.ThrowIfMatrixDoesNotFit(rows, cols, dyStride, dy.Length, nameof(dy), nameof(dyStride));
        ThrowHelper.ThrowIfMatrixDoesNotFit(rows, cols, dxStride, dx.Length, nameof(dx), nameof(dxStride));
        ValidateMatrixAlias(y, yStride, dx, dxStride, rows, cols, nameof(dx));
        ValidateMatrixAlias(dy, dyStride, dx, dxStride, rows, cols, nameof(dx));
        return rows > 0 && cols > 0;
    }

    // Only the matrices' own extents count; an output matrix may share its first element and its
    // stride with an input (in place), nothing else.
    private static void ValidateMatrixAlias(
        ReadOnlySpan<float> input, int inputStride, ReadOnlySpan<float> output, int outputStride, int rows, int cols, string outputName)
    {
        if (rows == 0 || cols == 0)
        {
            return;
        }

        ReadOnlySpan<float> inputExtent = input[..(((rows - 1) * inputStride) + cols)];
        ReadOnlySpan<float> outputExtent = output[..(((rows - 1) * outputStride) + cols)];
        if (inputExtent.Overlaps(outputExtent, out int offset) && (offset != 0 || (rows > 1 && inputStride != outputStride)))
        {
            ThrowHelper.Argument(outputName, $"{outputName} overlaps an input without being the same matrix (same start and row stride); write in place or to a disjoint buffer.");
        }
    }
}
