using System.Buffers.Binary;
using System.Text;

namespace Rnn.Simd.Audio;

/// <summary>Audio read by <see cref="WavReader"/>: mono samples as floats in [−1, 1) (16-bit PCM / 32768).</summary>
public sealed class WavAudio
{
    internal WavAudio(int sampleRate, float[] samples)
    {
        SampleRate = sampleRate;
        Samples = samples;
    }

    /// <summary>Samples per second: 16000 or 8000.</summary>
    public int SampleRate { get; }

    /// <summary>The samples, in order.</summary>
    public float[] Samples { get; }

    /// <summary>The duration in seconds.</summary>
    public double DurationSeconds => (double)Samples.Length / SampleRate;
}

/// <summary>
/// A strict reader of the WAV files a voice activity detector takes: RIFF/WAVE, 16-bit PCM, mono, 16000 or 8000 Hz.
/// Every chunk size is checked against the bytes that remain, odd-sized chunks are followed by their pad byte, and
/// anything else (another sample format, rate or channel count, a truncated or malformed file) is refused with one
/// line saying what the file is.
/// </summary>
public static class WavReader
{
    private const string Accepted = "the voice activity detector reads 16-bit PCM mono at 16000 or 8000 Hz";

    // WAVE_FORMAT_EXTENSIBLE's sub-format for PCM: KSDATAFORMAT_SUBTYPE_PCM, 00000001-0000-0010-8000-00aa00389b71.
    private static ReadOnlySpan<byte> PcmSubFormat => [0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];

    /// <summary>Reads a WAV file.</summary>
    /// <exception cref="InvalidDataException">The file is malformed, or not 16-bit PCM mono at 16000 or 8000 Hz; one
    /// line naming the file and saying what it is.</exception>
    public static WavAudio Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Read(File.ReadAllBytes(path), path);
    }

    /// <summary>Reads a WAV file's bytes; <paramref name="name"/> names it in errors.</summary>
    /// <exception cref="InvalidDataException">As <see cref="Read(string)"/>.</exception>
    public static WavAudio Read(ReadOnlySpan<byte> bytes, string name = "audio")
    {
        ArgumentNullException.ThrowIfNull(name);
        if (bytes.Length < 12 || !bytes[..4].SequenceEqual("RIFF"u8) || !bytes[8..12].SequenceEqual("WAVE"u8))
        {
            throw Error(name, bytes.Length < 12 ? $"{bytes.Length} bytes, shorter than a RIFF/WAVE header" : "not a RIFF/WAVE file");
        }

        long declared = 8L + BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]);
        if (declared > bytes.Length)
        {
            throw Error(name, $"truncated: its RIFF header declares {declared} bytes, the file has {bytes.Length}");
        }

        int end = (int)declared, at = 12;
        Format? format = null;
        int dataStart = -1, dataLength = 0;
        while (at < end)
        {
            if (end - at < 8)
            {
                throw Error(name, $"{end - at} stray bytes at byte {at}, too few for a chunk header");
            }

            string id = ChunkId(bytes.Slice(at, 4));
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(bytes[(at + 4)..]);
            int body = at + 8;
            if (size > (uint)(end - body))
            {
                throw Error(name, $"chunk '{id}' at byte {at} declares {size} bytes; {end - body} remain");
            }

            ReadOnlySpan<byte> chunk = bytes.Slice(body, (int)size);
            if (id == "fmt ")
            {
                if (format is not null)
                {
                    throw Error(name, "two 'fmt ' chunks");
                }

                format = ReadFormat(chunk, name);
            }
            else if (id == "data")
            {
                if (dataStart >= 0)
                {
                    throw Error(name, "two 'data' chunks");
                }

                (dataStart, dataLength) = (body, (int)size);
            }

            // An odd-sized chunk is followed by a pad byte (which a file may omit at its very end).
            at = (int)Math.Min(end, (long)body + size + (size & 1));
        }

        if (format is not { } f)
        {
            throw Error(name, "no 'fmt ' chunk");
        }

        if (!f.IsAccepted)
        {
            throw Error(name, $"{f}; {Accepted}");
        }

        if (dataStart < 0)
        {
            throw Error(name, "no 'data' chunk");
        }

        if (dataLength % 2 != 0)
        {
            throw Error(name, $"its 'data' chunk holds {dataLength} bytes, not a whole number of 2-byte samples");
        }

        var samples = new float[dataLength / 2];
        ReadOnlySpan<byte> data = bytes.Slice(dataStart, dataLength);
        for (int i = 0; i < samples.Length; i++)
        {
            samples[i] = BinaryPrimitives.ReadInt16LittleEndian(data[(2 * i)..]) / 32768f;
        }

        return new WavAudio((int)f.SampleRate, samples);
    }

    private static Format ReadFormat(ReadOnlySpan<byte> chunk, string name)
    {
        if (chunk.Length < 16)
        {
            throw Error(name, $"its 'fmt ' chunk has {chunk.Length} bytes; at least 16 expected");
        }

        int tag = BinaryPrimitives.ReadUInt16LittleEndian(chunk);
        var f = new Format(
            tag,
            BinaryPrimitives.ReadUInt16LittleEndian(chunk[2..]),
            BinaryPrimitives.ReadUInt32LittleEndian(chunk[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(chunk[8..]),
            BinaryPrimitives.ReadUInt16LittleEndian(chunk[12..]),
            BinaryPrimitives.ReadUInt16LittleEndian(chunk[14..]));
        if (tag == 0xFFFE)
        {
            // WAVE_FORMAT_EXTENSIBLE: cbSize (22), valid bits, channel mask, then the sub-format GUID.
            if (chunk.Length < 40 || BinaryPrimitives.ReadUInt16LittleEndian(chunk[16..]) < 22)
            {
                throw Error(name, $"its extensible 'fmt ' chunk has {chunk.Length} bytes; 40 expected");
            }

            int subTag = BinaryPrimitives.ReadUInt16LittleEndian(chunk[24..]);
            bool guidTail = chunk.Slice(26, 14).SequenceEqual(PcmSubFormat[2..]);
            f = f with { Tag = guidTail ? subTag : -1 };
        }

        if (f.IsAccepted && (f.BlockAlign != 2 || f.ByteRate != 2 * f.SampleRate))
        {
            throw Error(name, $"{f} declares {f.BlockAlign} bytes per frame and {f.ByteRate} bytes per second; 2 and {2 * f.SampleRate} expected");
        }

        return f;
    }

    private static string ChunkId(ReadOnlySpan<byte> id)
    {
        var text = new StringBuilder(4);
        foreach (byte b in id)
        {
            text.Append(b is >= 0x20 and < 0x7F ? (char)b : '?');
        }

        return text.ToString();
    }

    private static InvalidDataException Error(string name, string what) => new($"{name}: {what}.");

    private readonly record struct Format(int Tag, int Channels, long SampleRate, long ByteRate, int BlockAlign, int Bits)
    {
        public bool IsAccepted => Tag == 1 && Channels == 1 && Bits == 16 && SampleRate is 16000 or 8000;

        public override string ToString()
        {
            string channels = Channels switch { 1 => "mono", 2 => "stereo", _ => $"{Channels}-channel" };
            string encoding = Tag switch { 1 => "PCM", 3 => "float", 6 => "A-law", 7 => "µ-law", -1 => "non-PCM extensible", _ => $"format 0x{Tag:X4}" };
            return $"{SampleRate} Hz {channels} {Bits}-bit {encoding}";
        }
    }
}
