// Two layers planted for LayeringTests.TheCheck_FindsPlantedUpwardReferences: each type of Low refers to High in
// one way only (a field, a parameter, a method body, a lambda's body, a generic argument); High refers down to
// Low, which is allowed.
#pragma warning disable CA1812, CA1822, CA1823, CS0169, CS0649, IDE0051

namespace Rnn.Simd.Tests.Architecture.Planted.Low
{
    internal sealed class InField
    {
        private readonly High.Widget? _widget;
    }

    internal sealed class InParameter
    {
        public static int Size(High.Widget widget) => widget is null ? 0 : 1;
    }

    internal sealed class InBody
    {
        public static int Make() => new High.Widget().Size;
    }

    internal sealed class InLambda
    {
        public static Func<int> Later() => () => High.Gadget.Count;
    }

    internal sealed class InGenericArgument
    {
        public static int Count() => new List<High.Widget[]>().Count;
    }

    internal sealed class Plain
    {
        public int Value => 1;
    }
}

namespace Rnn.Simd.Tests.Architecture.Planted.High
{
    internal sealed class Widget
    {
        public int Size => new Low.Plain().Value;
    }

    internal static class Gadget
    {
        public static int Count => 2;
    }
}
