using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Rnn.Simd.Import.Onnx;

/// <summary>
/// How the ONNX reader refuses a file: one <see cref="InvalidDataException"/> whose message is one line, with
/// names taken from the file (which may hold anything) shown with their control characters escaped.
/// </summary>
internal static class OnnxErrors
{
    [DoesNotReturn]
    public static void Fail(string message) => throw Create(message);

    public static InvalidDataException Create(string message) => new(Printable(message));

    private static string Printable(string text)
    {
        if (!text.Any(char.IsControl))
        {
            return text;
        }

        var builder = new StringBuilder(text.Length + 16);
        foreach (char c in text)
        {
            builder.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c);
        }

        return builder.ToString();
    }
}
