using System.Buffers.Binary;
using System.Text;
using Rnn.Simd.Audio;

namespace Rnn.Simd.Tests.Audio;

/// <summary>
/// <see cref="WavReader"/>: the files it reads (any chunk order, odd-sized chunks and their pad byte, the extensible
/// header for PCM), and the ones it refuses with one line saying what the file is: other formats, truncations, sizes
/// that claim more than the file holds, missing or doubled chunks, and random damage (only InvalidDataException).
/// </summary>
[Trait("Category", "Audio")]
public sealed class WavReaderTests
{
    private static readonly short[] s_samples = [0, 1, -1, 32767, -32768, 12345, -2222];

    /// <summary>A chunk: id, size, body, pad byte if odd.</summary>
    private static byte[] Chunk(string id, byte[] body, uint? declared = null, bool pad = true)
    {
        var bytes = new List<byte>(Encoding.ASCII.GetBytes(id));
        bytes.AddRange(BitConverter.GetBytes(declared ?? (uint)body.Length));
        bytes.AddRange(body);
        if (pad && body.Length % 2 == 1)
        {
            bytes.Add(0);
        }

        return [.. bytes];
    }

    private static byte[] Fmt(int tag = 1, int channels = 1, int rate = 16000, int bits = 16, int? blockAlign = null, int? byteRate = null)
    {
        var body = new byte[16];
        int align = blockAlign ?? (channels * bits / 8);
        BinaryPrimitives.WriteUInt16LittleEndian(body, (ushort)tag);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(2), (ushort)channels);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), (uint)rate);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(8), (uint)(byteRate ?? (rate * align)));
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(12), (ushort)align);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(14), (ushort)bits);
        return Chunk("fmt ", body);
    }

    private static byte[] Data(short[] samples) => Chunk("data", [.. samples.SelectMany(BitConverter.GetBytes)]);

    private static byte[] Riff(params byte[][] chunks)
    {
        byte[] body = [.. "WAVE"u8.ToArray(), .. chunks.SelectMany(c => c)];
        return [.. "RIFF"u8.ToArray(), .. BitConverter.GetBytes((uint)body.Length), .. body];
    }

    private static string Refusal(byte[] file) => Assert.Throws<InvalidDataException>(() => WavReader.Read(file, "F.wav")).Message;

    [Fact]
    public void PcmMono_AtBothRates_ReadsEverySampleOver32768()
    {
        foreach (int rate in new[] { 16000, 8000 })
        {
            WavAudio audio = WavReader.Read(Riff(Fmt(rate: rate), Data(s_samples)), "F.wav");
            Assert.Equal(rate, audio.SampleRate);
            Assert.Equal(s_samples.Select(s => s / 32768f), audio.Samples);
            Assert.Equal(s_samples.Length / (double)rate, audio.DurationSeconds, 15);
        }
    }

    [Fact]
    public void OtherChunks_AnyOrder_OddSizesWithTheirPadByte_AndTheExtensibleHeader_AreRead()
    {
        byte[] list = Chunk("LIST", [1, 2, 3, 4, 5]);   // odd: a pad byte follows
        Assert.Equal(s_samples.Select(s => s / 32768f), WavReader.Read(Riff(list, Data(s_samples), Chunk("junk", [9]), Fmt()), "F.wav").Samples);

        // WAVE_FORMAT_EXTENSIBLE, 16-bit mono, sub-format PCM.
        byte[] extensible = new byte[40];
        Fmt().AsSpan(8, 16).CopyTo(extensible);
        BinaryPrimitives.WriteUInt16LittleEndian(extensible, 0xFFFE);
        BinaryPrimitives.WriteUInt16LittleEndian(extensible.AsSpan(16), 22);
        BinaryPrimitives.WriteUInt16LittleEndian(extensible.AsSpan(18), 16);
        BinaryPrimitives.WriteUInt32LittleEndian(extensible.AsSpan(20), 4);
        byte[] pcm = [0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];
        pcm.CopyTo(extensible, 24);
        Assert.Equal(8000, WavReader.Read(Riff(Chunk("fmt ", SetRate(extensible, 8000)), Data(s_samples)), "F.wav").SampleRate);

        // The same header naming IEEE float as its sub-format, or a sub-format of another family, is refused.
        extensible[24] = 3;
        Assert.StartsWith("F.wav: 16000 Hz mono 16-bit float;", Refusal(Riff(Chunk("fmt ", extensible), Data(s_samples))), StringComparison.Ordinal);
        extensible[24] = 1;
        extensible[39] = 0;
        Assert.StartsWith("F.wav: 16000 Hz mono 16-bit non-PCM extensible;", Refusal(Riff(Chunk("fmt ", extensible), Data(s_samples))), StringComparison.Ordinal);
    }

    private static byte[] SetRate(byte[] fmt, int rate)
    {
        byte[] copy = [.. fmt];
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(4), (uint)rate);
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(8), (uint)(2 * rate));
        return copy;
    }

    [Fact]
    public void OtherFormats_AreRefused_SayingWhatTheFileIs()
    {
        const string Reads = "; the voice activity detector reads 16-bit PCM mono at 16000 or 8000 Hz.";
        Assert.Equal("F.wav: 44100 Hz stereo 24-bit PCM" + Reads, Refusal(Riff(Fmt(channels: 2, rate: 44100, bits: 24), Data(s_samples))));
        Assert.Equal("F.wav: 16000 Hz mono 32-bit float" + Reads, Refusal(Riff(Fmt(tag: 3, bits: 32), Data(s_samples))));
        Assert.Equal("F.wav: 8000 Hz mono 8-bit PCM" + Reads, Refusal(Riff(Fmt(rate: 8000, bits: 8), Data(s_samples))));
        Assert.Equal("F.wav: 22050 Hz mono 16-bit PCM" + Reads, Refusal(Riff(Fmt(rate: 22050), Data(s_samples))));
        Assert.Equal("F.wav: 16000 Hz 6-channel 16-bit PCM" + Reads, Refusal(Riff(Fmt(channels: 6), Data(s_samples))));
        Assert.Equal("F.wav: 8000 Hz mono 8-bit µ-law" + Reads, Refusal(Riff(Fmt(tag: 7, rate: 8000, bits: 8), Data(s_samples))));
        Assert.Contains("declares 4 bytes per frame", Refusal(Riff(Fmt(blockAlign: 4), Data(s_samples))), StringComparison.Ordinal);
        Assert.Contains("16000 bytes per second; 2 and 32000 expected", Refusal(Riff(Fmt(byteRate: 16000), Data(s_samples))), StringComparison.Ordinal);
    }

    [Fact]
    public void HostileFiles_AreRefused_WithOneLine()
    {
        byte[] good = Riff(Fmt(), Data(s_samples));
        var cases = new (byte[] File, string Fragment)[]
        {
            ([], "0 bytes, shorter than a RIFF/WAVE header"),
            ("RIFX"u8.ToArray().Concat(good.Skip(4)).ToArray(), "not a RIFF/WAVE file"),
            (Riff(Data(s_samples)), "no 'fmt ' chunk"),
            (Riff(Fmt()), "no 'data' chunk"),
            (Riff(Fmt(), Fmt(), Data(s_samples)), "two 'fmt ' chunks"),
            (Riff(Fmt(), Data(s_samples), Data(s_samples)), "two 'data' chunks"),
            (Riff(Fmt(), Chunk("data", new byte[15])), "holds 15 bytes, not a whole number of 2-byte samples"),
            (Riff(Chunk("fmt ", new byte[14]), Data(s_samples)), "its 'fmt ' chunk has 14 bytes; at least 16 expected"),
            (Riff(Fmt(), Chunk("data", new byte[4], declared: 0xFFFFFFF0)), "chunk 'data' at byte 36 declares 4294967280 bytes; 4 remain"),
            (Riff(Fmt(), Chunk("LIST", new byte[4], declared: 0x7FFFFFFF), Data(s_samples)), "chunk 'LIST' at byte 36 declares 2147483647 bytes"),
            (Riff(Fmt(), Data(s_samples), [1, 2, 3]), "3 stray bytes at byte"),
            (Riff(Chunk("\u0001\u0002\u0003\u0004", [1, 2])), "no 'fmt ' chunk"),
        };
        foreach ((byte[] file, string fragment) in cases)
        {
            string message = Refusal(file);
            Assert.StartsWith("F.wav: ", message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', message);
            Assert.Contains(fragment, message, StringComparison.Ordinal);
        }

        // A RIFF size past the file's end, and every truncation of a good file.
        byte[] huge = [.. good];
        BinaryPrimitives.WriteUInt32LittleEndian(huge.AsSpan(4), 0xFFFFFFFF);
        Assert.Contains("truncated: its RIFF header declares 4294967303 bytes, the file has 58", Refusal(huge), StringComparison.Ordinal);
        for (int length = 0; length < good.Length; length++)
        {
            Refusal(good[..length]);
        }
    }

    [Fact]
    public void RandomDamage_IsReadOrRefused_NeverAnotherException()
    {
        var random = new Random(3);
        byte[] good = Riff(Chunk("LIST", [1, 2, 3]), Fmt(), Data(s_samples));
        int read = 0;
        for (int trial = 0; trial < 5000; trial++)
        {
            byte[] file = [.. good];
            for (int k = random.Next(1, 4); k > 0; k--)
            {
                file[random.Next(file.Length)] = (byte)random.Next(256);
            }

            try
            {
                WavAudio audio = WavReader.Read(file, "F.wav");
                Assert.True(audio.SampleRate is 16000 or 8000);
                read++;
            }
            catch (InvalidDataException e)
            {
                Assert.StartsWith("F.wav: ", e.Message, StringComparison.Ordinal);
            }
        }

        Assert.InRange(read, 1, 4999);
    }

    [Fact]
    public void AFile_IsNamedInItsError()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rnn-simd-wav-{Environment.ProcessId}.wav");
        File.WriteAllBytes(path, Riff(Fmt(rate: 44100), Data(s_samples)));
        try
        {
            Assert.StartsWith(path + ": 44100 Hz mono 16-bit PCM;", Assert.Throws<InvalidDataException>(() => WavReader.Read(path)).Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
