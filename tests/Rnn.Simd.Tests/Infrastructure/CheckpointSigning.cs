using Rnn.Simd.IO;

namespace Rnn.Simd.Tests.Infrastructure;

/// <summary>For tests that forge checkpoints: a writer's content signed as <see cref="Checkpoint.Save"/> signs it.</summary>
internal static class CheckpointSigning
{
    /// <summary>Sets <paramref name="writer"/>'s <c>checksum</c> to the SHA-256 of what it holds now.</summary>
    public static void Sign(SafeTensorsWriter writer)
    {
        using var unsigned = new MemoryStream();
        writer.WriteTo(unsigned);
        byte[] bytes = unsigned.ToArray();
        writer.SetMetadata("checksum", Checkpoint.Checksum(SafeTensorsFile.Load(bytes), bytes));
    }

    /// <summary>
    /// Adds <paramref name="metadata"/> to <paramref name="writer"/>, signs it (unless <paramref name="sign"/> is false),
    /// saves it to <paramref name="path"/> and returns the message of the <see cref="InvalidDataException"/> that loading
    /// it must throw, which names the file.
    /// </summary>
    public static string LoadError(SafeTensorsWriter writer, IReadOnlyDictionary<string, string> metadata, string path, bool sign = true)
    {
        foreach (KeyValuePair<string, string> pair in metadata)
        {
            writer.SetMetadata(pair.Key, pair.Value);
        }

        if (sign)
        {
            Sign(writer);
        }

        writer.Save(path);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.StartsWith($"checkpoint '{path}' ", e.Message);
        return e.Message;
    }
}
