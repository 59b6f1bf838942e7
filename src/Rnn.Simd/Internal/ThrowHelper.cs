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
            WrongLength(actual, expected, paramName, shape, default, optional: false);
        }
    }

    /// <summary>
    /// Throws unless a buffer has exactly the product of <paramref name="dimensions"/> elements; <paramref name="shape"/>
    /// names the factors in order ("T·B·X"), so the message reads "input has 37 values; expected T·B·X = 40 (T=2, B=4, X=5)".
    /// The product is computed without overflow: a shape past any span's length is reported as such, never wrapped.
    /// </summary>
    public static void ThrowIfLengthIsNot(int actual, string paramName, string shape, params ReadOnlySpan<int> dimensions)
    {
        long expected = Product(dimensions);
        if (actual != expected)
        {
            WrongLength(actual, expected, paramName, shape, dimensions, optional: false);
        }
    }

    /// <summary>Throws unless an optional buffer is empty or has exactly <paramref name="expected"/> elements.</summary>
    public static void ThrowIfLengthIsNotEmptyOr(int actual, long expected, string paramName, string shape)
    {
        if (actual != 0 && actual != expected)
        {
            WrongLength(actual, expected, paramName, shape, default, optional: true);
        }
    }

    /// <summary>Throws unless an optional buffer is empty or has exactly the product of <paramref name="dimensions"/> elements.</summary>
    public static void ThrowIfLengthIsNotEmptyOr(int actual, string paramName, string shape, params ReadOnlySpan<int> dimensions)
    {
        long expected = Product(dimensions);
        if (actual != 0 && actual != expected)
        {
            WrongLength(actual, expected, paramName, shape, dimensions, optional: true);
        }
    }

    /// <summary>
    /// Throws an <see cref="ArgumentOutOfRangeException"/> naming <paramref name="paramName"/> when a buffer of the
    /// product of <paramref name="dimensions"/> elements (named by <paramref name="shape"/>) would not fit in one array,
    /// instead of the <see cref="OverflowException"/> or negative length an int product would give.
    /// </summary>
    public static void ThrowIfTooLarge(string paramName, string shape, params ReadOnlySpan<int> dimensions)
    {
        if (Product(dimensions) > Array.MaxLength)
        {
            TooLarge(paramName, shape, dimensions);
        }
    }

    [DoesNotReturn]
    private static void TooLarge(string paramName, string shape, ReadOnlySpan<int> dimensions) =>
        ArgumentOutOfRange(paramName, $"A buffer of {shape} = {Count(Product(dimensions))} values {Factors(shape, dimensions)} is more than one array can hold ({Array.MaxLength}).");

    /// <summary>
    /// The product of non-negative sizes, saturated at <see cref="long.MaxValue"/> (a negative size gives −1): never
    /// equal to a span's length unless the shape really fits.
    /// </summary>
    public static long Product(ReadOnlySpan<int> dimensions)
    {
        long product = 1;
        foreach (int d in dimensions)
        {
            if (d < 0)
            {
                return -1;
            }

            product = d == 0 ? 0 : product > long.MaxValue / d ? long.MaxValue : product * d;
        }

        return product;
    }

    [DoesNotReturn]
    private static void WrongLength(int actual, long expected, string paramName, string shape, ReadOnlySpan<int> dimensions, bool optional)
    {
        string count = expected >= 0 ? $" = {Count(expected)}" : "";
        string factors = dimensions.IsEmpty ? "" : " " + Factors(shape, dimensions);
        string tooLarge = expected > Array.MaxLength ? ", more than one array can hold; split the batch or the sequence" : "";
        Argument(paramName, $"{paramName} has {actual} values; expected {(optional ? "none or " : "")}{shape}{count}{factors}{tooLarge}.");
    }

    /// <summary>A saturated product as text.</summary>
    private static string Count(long product) =>
        product == long.MaxValue ? "more than 2^63" : product.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>"(T=2, B=4, X=5)": each factor of <paramref name="shape"/> ("T·B·X") with its value.</summary>
    private static string Factors(string shape, ReadOnlySpan<int> dimensions)
    {
        string[] names = shape.Split('·');
        var text = new System.Text.StringBuilder("(");
        for (int i = 0; i < dimensions.Length; i++)
        {
            text.Append(i > 0 ? ", " : "").Append(i < names.Length ? names[i] : "?").Append('=').Append(dimensions[i]);
        }

        return text.Append(')').ToString();
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
