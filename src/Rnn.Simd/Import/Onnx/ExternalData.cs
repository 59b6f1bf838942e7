using System.Globalization;

namespace Rnn.Simd.Import.Onnx;

/// <summary>
/// Tensor data an ONNX file keeps beside it (<c>data_location = EXTERNAL</c>; <c>location</c>, <c>offset</c>,
/// <c>length</c>), read only from inside the model's own folder: a location that is absolute, climbs out with
/// <c>..</c>, or passes through a symbolic link anywhere below the folder is refused, as is a range outside the file.
/// </summary>
internal static class ExternalData
{
    public static byte[] Read(string directory, IReadOnlyDictionary<string, string> entries, string label)
    {
        if (!entries.TryGetValue("location", out string? location) || location.Length == 0)
        {
            OnnxErrors.Fail($"The {label} keeps its data in an external file but names none (no 'location').");
        }

        string root = Path.GetFullPath(directory);
        if (Path.IsPathRooted(location) || location.Contains('\0', StringComparison.Ordinal))
        {
            OnnxErrors.Fail($"The {label} names external data '{location}' by an absolute path; only files inside the model's folder are read.");
        }

        string full = Path.GetFullPath(Path.Combine(root, location));
        string prefix = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        if (!full.StartsWith(prefix, StringComparison.Ordinal))
        {
            OnnxErrors.Fail($"The {label} names external data '{location}', which is outside the model's folder.");
        }

        // No symbolic link on the way from the folder to the file (a link could lead anywhere).
        for (string? p = full; p is not null && p.Length > root.Length; p = Path.GetDirectoryName(p))
        {
            var info = new FileInfo(p);
            if (info.Exists || Directory.Exists(p))
            {
                if ((File.GetAttributes(p) & FileAttributes.ReparsePoint) != 0)
                {
                    OnnxErrors.Fail($"The {label} names external data '{location}' through a symbolic link; only plain files inside the model's folder are read.");
                }
            }
        }

        if (!File.Exists(full))
        {
            OnnxErrors.Fail($"The {label} names external data '{location}', which does not exist in the model's folder.");
        }

        long offset = Number(entries, "offset", label), size = new FileInfo(full).Length;
        long length = entries.ContainsKey("length") ? Number(entries, "length", label) : size - offset;
        if (offset < 0 || length < 0 || offset > size || length > size - offset || length > Array.MaxLength)
        {
            OnnxErrors.Fail($"The {label} reads bytes [{offset}, {offset} + {length}) of '{location}', which holds {size}.");
        }

        var bytes = new byte[length];
        using FileStream stream = File.OpenRead(full);
        stream.Seek(offset, SeekOrigin.Begin);
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static long Number(IReadOnlyDictionary<string, string> entries, string key, string label)
    {
        if (!entries.TryGetValue(key, out string? text))
        {
            return 0;
        }

        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value)
            ? value
            : throw OnnxErrors.Create($"The {label} gives external data {key} '{text}', which is not a non-negative integer.");
    }
}
