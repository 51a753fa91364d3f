using System.Reflection;
using Xunit;

namespace DeepArch.MLNet.Tests.Schema;

/// <summary>
/// What a user names in the common cases is reachable from two namespaces besides ML.NET's, as ML.NET does it: every public
/// type of DeepArch.MLNet (catalog methods, estimators, options, the transformer, persistence) in <c>DeepArch.MLNet</c>, and
/// every type their public members name from DeepArch.Trainers (devices, activations, cells, optimizers, schedules, history)
/// in <c>DeepArch.Trainers</c>. Custom layers (<c>LayerSpec</c>) are the one advanced exception.
/// </summary>
public class NamespaceTests
{
    private static readonly Assembly MLNet = typeof(NetworkTransformer).Assembly;

    [Fact]
    public void Every_public_type_of_DeepArch_MLNet_is_in_one_namespace()
    {
        var elsewhere = MLNet.GetExportedTypes().Where(t => t.Namespace != "DeepArch.MLNet").Select(t => t.FullName).ToList();

        Assert.Empty(elsewhere);
    }

    [Fact]
    public void The_DeepArch_Trainers_types_that_public_options_and_results_name_are_in_its_root_namespace()
    {
        var named = MLNet.GetExportedTypes()
            .SelectMany(t => t.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .SelectMany(m => m switch
            {
                PropertyInfo p => [p.PropertyType],
                MethodInfo method => method.GetParameters().Select(p => p.ParameterType).Append(method.ReturnType),
                ConstructorInfo c => c.GetParameters().Select(p => p.ParameterType),
                _ => Array.Empty<Type>(),
            })
            .SelectMany(Unwrap)
            .Where(t => t.Assembly == typeof(DeepArch.Trainers.ComputeDevice).Assembly)
            .Distinct()
            .Where(t => t.Namespace != "DeepArch.Trainers" && t != typeof(DeepArch.Trainers.Layers.LayerSpec))
            .Select(t => t.FullName)
            .ToList();

        Assert.Empty(named);
    }

    /// <summary>A type and its generic arguments, element types and nullable underlying types.</summary>
    private static IEnumerable<Type> Unwrap(Type type)
    {
        var inner = type.IsByRef || type.IsArray ? type.GetElementType()! : type;
        yield return inner;
        foreach (var argument in inner.IsGenericType ? inner.GetGenericArguments() : [])
        {
            foreach (var t in Unwrap(argument))
            {
                yield return t;
            }
        }
    }
}
