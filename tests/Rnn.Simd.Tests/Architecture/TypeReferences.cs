using System.Reflection;
using System.Reflection.Emit;

namespace Rnn.Simd.Tests.Architecture;

/// <summary>
/// Every type a compiled type refers to: its base type and interfaces, generic constraints, attributes,
/// fields, properties, events, method signatures and locals, and every type, method and field token in its
/// method bodies' IL (calls, field loads, newobj, casts, typeof, …). Nested and compiler-generated types
/// (closures, state machines) count as part of the type that declares them.
/// </summary>
internal static class TypeReferences
{
    private const BindingFlags Everything = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance |
                                           BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Dictionary<short, OperandType> OneByte = [], TwoByte = [];

    static TypeReferences()
    {
        foreach (FieldInfo field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var code = (OpCode)field.GetValue(null)!;
            (code.Size == 1 ? OneByte : TwoByte)[(short)(code.Value & 0xFF)] = code.OperandType;
        }
    }

    /// <summary>The outermost type that declares <paramref name="type"/> (itself when not nested).</summary>
    public static Type Outermost(Type type)
    {
        while (type.DeclaringType is { } outer)
        {
            type = outer;
        }

        return type;
    }

    /// <summary>The types of <paramref name="within"/> that <paramref name="type"/> refers to, each with one place it does.</summary>
    public static Dictionary<Type, string> Of(Type type, Assembly within)
    {
        var found = new Dictionary<Type, string>();
        void Add(Type? t, string where)
        {
            foreach (Type leaf in Leaves(t))
            {
                if (leaf.Assembly == within && !found.ContainsKey(Outermost(leaf)))
                {
                    found[Outermost(leaf)] = where;
                }
            }
        }

        Add(type.BaseType, "base type");
        foreach (Type i in type.GetInterfaces())
        {
            Add(i, "interface");
        }

        AddAttributes(type.CustomAttributes, "attribute", Add);
        if (type.IsGenericTypeDefinition)
        {
            foreach (Type p in type.GetGenericArguments())
            {
                foreach (Type c in p.GetGenericParameterConstraints())
                {
                    Add(c, "generic constraint");
                }
            }
        }

        foreach (FieldInfo f in type.GetFields(Everything))
        {
            Add(f.FieldType, $"field {f.Name}");
            AddAttributes(f.CustomAttributes, $"field {f.Name}", Add);
        }

        foreach (PropertyInfo p in type.GetProperties(Everything))
        {
            Add(p.PropertyType, $"property {p.Name}");
        }

        foreach (EventInfo e in type.GetEvents(Everything))
        {
            Add(e.EventHandlerType, $"event {e.Name}");
        }

        foreach (MethodBase m in type.GetMethods(Everything).Cast<MethodBase>().Concat(type.GetConstructors(Everything)))
        {
            string where = $"{m.Name}";
            if (m is MethodInfo mi)
            {
                Add(mi.ReturnType, $"{where} (return type)");
                if (mi.IsGenericMethodDefinition)
                {
                    foreach (Type p in mi.GetGenericArguments())
                    {
                        foreach (Type c in p.GetGenericParameterConstraints())
                        {
                            Add(c, $"{where} (generic constraint)");
                        }
                    }
                }
            }

            foreach (ParameterInfo p in m.GetParameters())
            {
                Add(p.ParameterType, $"{where} (parameter {p.Name})");
            }

            AddAttributes(m.CustomAttributes, where, Add);
            MethodBody? body;
            try
            {
                body = m.GetMethodBody();
            }
            catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException)
            {
                body = null;
            }

            if (body is null)
            {
                continue;
            }

            foreach (LocalVariableInfo local in body.LocalVariables)
            {
                Add(local.LocalType, $"{where} (local)");
            }

            foreach (MemberInfo member in IlMembers(m, body.GetILAsByteArray() ?? []))
            {
                switch (member)
                {
                    case Type t:
                        Add(t, $"{where} (IL)");
                        break;
                    case FieldInfo f:
                        Add(f.DeclaringType, $"{where} (IL: field {f.Name})");
                        Add(f.FieldType, $"{where} (IL: field {f.Name})");
                        break;
                    case MethodBase callee:
                        Add(callee.DeclaringType, $"{where} (IL: calls {callee.Name})");
                        foreach (Type g in callee.IsGenericMethod ? callee.GetGenericArguments() : [])
                        {
                            Add(g, $"{where} (IL: calls {callee.Name})");
                        }

                        break;
                }
            }
        }

        found.Remove(Outermost(type));
        return found;
    }

    private static void AddAttributes(IEnumerable<CustomAttributeData> attributes, string where, Action<Type?, string> add)
    {
        foreach (CustomAttributeData a in attributes)
        {
            add(a.AttributeType, $"{where} (attribute)");
            foreach (CustomAttributeTypedArgument arg in a.ConstructorArguments)
            {
                add(arg.Value as Type, $"{where} (attribute argument)");
            }
        }
    }

    /// <summary>The named types inside <paramref name="type"/>: element types of arrays, pointers and refs, and generic arguments.</summary>
    private static IEnumerable<Type> Leaves(Type? type)
    {
        if (type is null || type.IsGenericParameter)
        {
            yield break;
        }

        if (type.HasElementType)
        {
            foreach (Type t in Leaves(type.GetElementType()))
            {
                yield return t;
            }

            yield break;
        }

        if (type.IsGenericType && !type.IsGenericTypeDefinition)
        {
            yield return type.GetGenericTypeDefinition();
            foreach (Type arg in type.GetGenericArguments())
            {
                foreach (Type t in Leaves(arg))
                {
                    yield return t;
                }
            }

            yield break;
        }

        if (type.IsFunctionPointer)
        {
            yield break;
        }

        yield return type;
    }

    /// <summary>The members named by the metadata tokens in one method body's IL.</summary>
    private static IEnumerable<MemberInfo> IlMembers(MethodBase method, byte[] il)
    {
        Type[]? typeArgs = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        Type[]? methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        Module module = method.Module;
        int i = 0;
        while (i < il.Length)
        {
            OperandType operand;
            if (il[i] == 0xFE)
            {
                operand = TwoByte[il[i + 1]];
                i += 2;
            }
            else
            {
                operand = OneByte[il[i]];
                i += 1;
            }

            switch (operand)
            {
                case OperandType.InlineMethod:
                case OperandType.InlineField:
                case OperandType.InlineType:
                case OperandType.InlineTok:
                    int token = BitConverter.ToInt32(il, i);
                    MemberInfo? member;
                    try
                    {
                        member = module.ResolveMember(token, typeArgs, methodArgs);
                    }
                    catch (ArgumentException)
                    {
                        member = null;
                    }

                    if (member is not null)
                    {
                        yield return member;
                    }

                    i += 4;
                    break;
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget:
                case OperandType.ShortInlineI:
                case OperandType.ShortInlineVar:
                    i += 1;
                    break;
                case OperandType.InlineVar:
                    i += 2;
                    break;
                case OperandType.InlineI8:
                case OperandType.InlineR:
                    i += 8;
                    break;
                case OperandType.InlineSwitch:
                    int count = BitConverter.ToInt32(il, i);
                    i += 4 + (4 * count);
                    break;
                default: // InlineBrTarget, InlineI, InlineSig, InlineString, ShortInlineR
                    i += 4;
                    break;
            }
        }
    }
}
