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
}
