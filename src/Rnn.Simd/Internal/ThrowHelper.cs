using System.Diagnostics.CodeAnalysis;

namespace Rnn.Simd.Internal;

/// <summary>Throw helpers kept out of line so that validation stays cheap on hot paths.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ArgumentOutOfRange(string paramName, string message) =>
        throw new ArgumentOutOfRangeException(paramName, message);

    [DoesNotReturn]
    public static void Argument(string paramName, string message) =>
        throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void ArgumentNull(string paramName) =>
        throw new ArgumentNullException(paramName);

    [DoesNotReturn]
    public static void ObjectDisposed(string typeName) =>
        throw new ObjectDisposedException(typeName);

    [DoesNotReturn]
    public static void InvalidOperation(string message) =>
        throw new InvalidOperationException(message);

    /// <summary>A file (or bytes claiming to be one) broke its format; <paramref name="message"/> says how.</summary>
    [DoesNotReturn]
    public static void InvalidData(string message) =>
        throw new InvalidDataException(message);

    /// <summary>Throws unless <paramref name="value"/> ≥ 0.</summary>
    public static void ThrowIfNegative(int value, string paramName)
    {
        if (value < 0)
        {
            ArgumentOutOfRange(paramName, $"Must be non-negative, was {value}.");
        }
    }

    /// <summary>Throws unless a buffer has exactly <paramref name="expected"/> elements (<paramref name="shape"/> names them).</summary>
    public static void ThrowIfLengthIsNot(int actual, long expected, string paramName, string shape)
    {
        if (actual != expected)
        {
            Argument(paramName, $"Expected {expected} elements ({shape}), got {actual}.");
        }
    }

    /// <summary>Throws unless an optional buffer is empty or has exactly <paramref name="expected"/> elements.</summary>
    public static void ThrowIfLengthIsNotEmptyOr(int actual, long expected, string paramName, string shape)
    {
        if (actual != 0 && actual != expected)
        {
            Argument(paramName, $"Expected empty or {expected} elements ({shape}), got {actual}.");
        }
    }

    /// <summary>
    /// Throws unless a row-major matrix view of <paramref name="rows"/> × <paramref name="cols"/> with row
    /// stride <paramref name="stride"/> fits in a buffer of <paramref name="length"/> elements.
    /// </summary>
    public static void ThrowIfMatrixDoesNotFit(int rows, int cols, int stride, int length, string bufferName, string strideName)
    {
        if (stride < cols || stride < 0)
        {
            ArgumentOutOfRange(strideName, $"Row stride {stride} is smaller than the row length {cols}.");
        }

        long needed = rows == 0 || cols == 0 ? 0 : ((long)(rows - 1) * stride) + cols;
        if (needed > length)
        {
            Argument(bufferName, $"A {rows}×{cols} matrix with row stride {stride} needs {needed} elements; the buffer has {length}.");
        }
    }
}
