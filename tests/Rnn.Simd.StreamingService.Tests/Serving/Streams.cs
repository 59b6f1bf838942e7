using Grpc.Core;
using Rnn.Simd.Layers;
using Rnn.Simd.StreamingProtocol;
using Xunit;

namespace Rnn.Simd.StreamingService.Tests.Serving;

/// <summary>A client stream of the service driven from a test, and the direct run it must equal.</summary>
internal static class Streams
{
    /// <summary>Sends <paramref name="frames"/> seeded frames of stream <paramref name="stream"/>, one at a time, and returns the outputs [frames, Hout].</summary>
    public static async Task<float[]> RunAsync(StreamingInference.StreamingInferenceClient client, int stream, int frames, int inputSize, int outputSize, CancellationToken cancellationToken = default)
    {
        using AsyncDuplexStreamingCall<Frame, Output> call = client.Stream(cancellationToken: cancellationToken);
        var outputs = new float[frames * outputSize];
        float[] values = new float[inputSize];
        for (int t = 0; t < frames; t++)
        {
            SeededFrames.Fill(stream, t, values);
            await call.RequestStream.WriteAsync(Frame(t, values), cancellationToken);
            Assert.True(await call.ResponseStream.MoveNext(cancellationToken), $"stream {stream}: no output for frame {t}");
            Output output = call.ResponseStream.Current;
            Assert.Equal((ulong)t, output.Sequence);
            Assert.Equal(outputSize, output.Values.Count);
            output.Values.CopyTo(outputs, t * outputSize);
        }

        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext(cancellationToken));
        return outputs;
    }

    /// <summary>The same seeded frames through <see cref="RecurrentNetwork.Step"/> on a state of its own.</summary>
    public static float[] DirectRun(RecurrentNetwork network, int stream, int frames)
    {
        RecurrentNetworkOptions o = network.Options;
        RecurrentState state = network.CreateState();
        var outputs = new float[frames * o.OutputSize];
        float[] values = new float[o.InputSize];
        for (int t = 0; t < frames; t++)
        {
            SeededFrames.Fill(stream, t, values);
            network.Step(state, values, outputs.AsSpan(t * o.OutputSize, o.OutputSize));
        }

        return outputs;
    }

    public static Frame Frame(long sequence, IEnumerable<float> values)
    {
        var frame = new Frame { Sequence = (ulong)sequence };
        frame.Values.AddRange(values);
        return frame;
    }

    /// <summary>Bit-for-bit equality, naming the first differing value.</summary>
    public static void AssertBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"{what}: value {i} is {actual[i]:R}, the direct run gives {expected[i]:R}");
            }
        }
    }
}
