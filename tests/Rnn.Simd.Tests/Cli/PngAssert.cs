using System.Buffers.Binary;
using System.Text;

namespace Rnn.Simd.Tests.Cli;

/// <summary>Checks that a file is a PNG image of a given size (its signature and IHDR chunk) with something drawn in it.</summary>
internal static class PngAssert
{
    public static void IsChart(string path, int width, int height)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], bytes[..8]);
        Assert.Equal("IHDR", Encoding.ASCII.GetString(bytes, 12, 4));
        Assert.Equal(width, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
        Assert.Equal(height, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
        Assert.True(bytes.Length > 10_000, $"a chart with curves and labels is more than {bytes.Length} bytes");
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(Path.GetFullPath(path))!, "*.tmp"));
    }
}
