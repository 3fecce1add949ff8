package io.passgate.nat;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.UnsafeApi;

/**
 * The primitive state of an object graph, copied verbatim into a buffer and back: how a helper's tables
 * (struct-of-arrays records, free lists, Agrona hash maps, nested index classes) survive a restart without
 * each helper writing a codec of its own.
 *
 * <p>The fields are found once, at construction, by reflection: every non-static primitive field and
 * primitive array (one- or two-dimensional) of the root, and the same of the objects its final fields hold
 * when they are passgate's own nested classes or Agrona collections (one level; an Agrona map's views are
 * skipped). Every other reference (the host, the flow table, counters, buffers, flyweights, random
 * generators) is left alone. Saving and restoring then use Agrona's {@link UnsafeApi} with the fields' offsets: no
 * reflection, no boxing, no allocation on save. An array an Agrona map reallocated when it grew is written
 * with its current length and reallocated on restore when the length differs; a final array (sized by the
 * configuration) whose saved length differs fails {@link #check} instead: the configuration changed.
 *
 * <p>{@link #schema()} hashes the fields' classes, names and types in order, so a passgate whose helper
 * has other fields refuses an image of the old one.
 */
public final class ObjectImage
{
    private static final int K_BOOLEAN = 1;
    private static final int K_BYTE = 2;
    private static final int K_SHORT = 3;
    private static final int K_CHAR = 4;
    private static final int K_INT = 5;
    private static final int K_LONG = 6;
    private static final int K_FLOAT = 7;
    private static final int K_DOUBLE = 8;
    private static final int ARRAY = 16;

    private final Object[] holder;
    private final long[] offset;
    private final int[] kind;
    private final boolean[] fixedLength;
    private final String[] name;
    private final int schema;

    public ObjectImage(final Object root)
    {
        final List<Object> holders = new ArrayList<>();
        final List<Long> offsets = new ArrayList<>();
        final List<Integer> kinds = new ArrayList<>();
        final List<Boolean> fixed = new ArrayList<>();
        final List<String> names = new ArrayList<>();
        final StringBuilder schemaText = new StringBuilder();
        collect(root, root.getClass().getName(), true, holders, offsets, kinds, fixed, names, schemaText);
        final int n = holders.size();
        holder = holders.toArray();
        offset = new long[n];
        kind = new int[n];
        fixedLength = new boolean[n];
        name = names.toArray(new String[0]);
        for (int i = 0; i < n; i++)
        {
            offset[i] = offsets.get(i);
            kind[i] = kinds.get(i);
            fixedLength[i] = fixed.get(i);
        }
        schema = schemaText.toString().hashCode();
    }

    private static void collect(final Object object, final String path, final boolean recurse,
        final List<Object> holders, final List<Long> offsets, final List<Integer> kinds, final List<Boolean> fixed,
        final List<String> names, final StringBuilder schemaText)
    {
        final List<Field> fields = new ArrayList<>();
        for (Class<?> c = object.getClass(); c != null && c != Object.class; c = c.getSuperclass())
        {
            for (final Field f : c.getDeclaredFields())
            {
                if (!Modifier.isStatic(f.getModifiers()))
                {
                    fields.add(f);
                }
            }
        }
        fields.sort(Comparator.comparing((Field f) -> f.getDeclaringClass().getName()).thenComparing(Field::getName));
        for (final Field f : fields)
        {
            final Class<?> type = f.getType();
            final long off = UnsafeApi.objectFieldOffset(f);
            final boolean isFinal = Modifier.isFinal(f.getModifiers());
            final String fieldPath = path + "." + f.getName();
            if (type.isPrimitive())
            {
                add(object, off, kindOf(type), false, fieldPath, holders, offsets, kinds, fixed, names, schemaText);
            }
            else if (type.isArray() && type.getComponentType().isPrimitive())
            {
                add(object, off, ARRAY | kindOf(type.getComponentType()), isFinal, fieldPath, holders, offsets, kinds,
                    fixed, names, schemaText);
            }
            else if (type.isArray() && type.getComponentType().isArray()
                && type.getComponentType().getComponentType().isPrimitive() && isFinal)
            {
                // a final two-dimensional array: each row, as a final array of its own
                final Object outer = UnsafeApi.getReference(object, off);
                if (outer == null)
                {
                    continue;
                }
                final int rows = java.lang.reflect.Array.getLength(outer);
                final long base = UnsafeApi.arrayBaseOffset(outer.getClass());
                final long scale = UnsafeApi.arrayIndexScale(outer.getClass());
                final int k = ARRAY | kindOf(type.getComponentType().getComponentType());
                for (int r = 0; r < rows; r++)
                {
                    add(outer, base + r * scale, k, true, fieldPath + "[" + r + "]", holders, offsets, kinds, fixed,
                        names, schemaText);
                }
            }
            else if (recurse && isFinal && followed(object, type))
            {
                final Object inner = UnsafeApi.getReference(object, off);
                if (inner != null)
                {
                    collect(inner, fieldPath, false, holders, offsets, kinds, fixed, names, schemaText);
                }
            }
        }
    }

    /** Objects whose state is the root's: passgate's own nested classes, Agrona's primitive collections. */
    private static boolean followed(final Object root, final Class<?> type)
    {
        return type.getName().startsWith("org.agrona.collections.")
            || type.getEnclosingClass() == root.getClass() && !type.isInterface() && !type.isEnum();
    }

    private static void add(final Object object, final long off, final int k, final boolean isFinal, final String path,
        final List<Object> holders, final List<Long> offsets, final List<Integer> kinds, final List<Boolean> fixed,
        final List<String> names, final StringBuilder schemaText)
    {
        holders.add(object);
        offsets.add(off);
        kinds.add(k);
        fixed.add(isFinal);
        names.add(path);
        schemaText.append(path).append(':').append(k).append(';');
    }

    private static int kindOf(final Class<?> type)
    {
        if (type == boolean.class)
        {
            return K_BOOLEAN;
        }
        if (type == byte.class)
        {
            return K_BYTE;
        }
        if (type == short.class)
        {
            return K_SHORT;
        }
        if (type == char.class)
        {
            return K_CHAR;
        }
        if (type == int.class)
        {
            return K_INT;
        }
        if (type == long.class)
        {
            return K_LONG;
        }
        if (type == float.class)
        {
            return K_FLOAT;
        }
        return K_DOUBLE;
    }

    private static int width(final int k)
    {
        return switch (k & ~ARRAY)
        {
            case K_BOOLEAN, K_BYTE -> 1;
            case K_SHORT, K_CHAR -> 2;
            case K_INT, K_FLOAT -> 4;
            default -> 8;
        };
    }

    private static Class<?> arrayClass(final int k)
    {
        return switch (k & ~ARRAY)
        {
            case K_BOOLEAN -> boolean[].class;
            case K_BYTE -> byte[].class;
            case K_SHORT -> short[].class;
            case K_CHAR -> char[].class;
            case K_INT -> int[].class;
            case K_FLOAT -> float[].class;
            case K_LONG -> long[].class;
            default -> double[].class;
        };
    }

    /** A hash of the fields' names and kinds: an image of another layout is refused. */
    public int schema()
    {
        return schema;
    }

    /** Fields and array rows copied. */
    public int fields()
    {
        return holder.length;
    }

    /** The bytes {@link #save} writes now. */
    public int size()
    {
        long total = 0;
        for (int i = 0; i < holder.length; i++)
        {
            if ((kind[i] & ARRAY) == 0)
            {
                total += 8;
            }
            else
            {
                final Object a = UnsafeApi.getReference(holder[i], offset[i]);
                total += 4 + (a == null ? 0 : (long)java.lang.reflect.Array.getLength(a) * width(kind[i]));
            }
        }
        return (int)Math.min(Integer.MAX_VALUE, total);
    }

    /**
     * Writes the state at {@code index}; returns the bytes written, or -1 when it does not fit before
     * {@code limit} (nothing useful written then). No allocation.
     */
    public int save(final MutableDirectBuffer buffer, final int index, final int limit)
    {
        int at = index;
        final byte[] base = buffer.byteArray();
        final long address = buffer.addressOffset();
        for (int i = 0; i < holder.length; i++)
        {
            final int k = kind[i];
            if ((k & ARRAY) == 0)
            {
                if (at + 8 > limit)
                {
                    return -1;
                }
                buffer.putLong(at, readScalar(holder[i], offset[i], k));
                at += 8;
                continue;
            }
            final Object a = UnsafeApi.getReference(holder[i], offset[i]);
            final int length = a == null ? -1 : arrayLength(a, k);
            final long bytes = length < 0 ? 0 : (long)length * width(k);
            if (at + 4 + bytes > limit)
            {
                return -1;
            }
            buffer.putInt(at, length);
            at += 4;
            if (bytes > 0)
            {
                UnsafeApi.copyMemory(a, UnsafeApi.arrayBaseOffset(a.getClass()), base, address + at, bytes);
                at += (int)bytes;
            }
        }
        return at - index;
    }

    private static int arrayLength(final Object a, final int k)
    {
        return switch (k & ~ARRAY)
        {
            case K_BOOLEAN -> ((boolean[])a).length;
            case K_BYTE -> ((byte[])a).length;
            case K_SHORT -> ((short[])a).length;
            case K_CHAR -> ((char[])a).length;
            case K_INT -> ((int[])a).length;
            case K_FLOAT -> ((float[])a).length;
            case K_LONG -> ((long[])a).length;
            default -> ((double[])a).length;
        };
    }

    private static long readScalar(final Object o, final long off, final int k)
    {
        return switch (k)
        {
            case K_BOOLEAN -> UnsafeApi.getBoolean(o, off) ? 1 : 0;
            case K_BYTE -> UnsafeApi.getByte(o, off);
            case K_SHORT -> UnsafeApi.getShort(o, off);
            case K_CHAR -> UnsafeApi.getChar(o, off);
            case K_INT -> UnsafeApi.getInt(o, off);
            case K_FLOAT -> Float.floatToRawIntBits(UnsafeApi.getFloat(o, off));
            case K_LONG -> UnsafeApi.getLong(o, off);
            default -> Double.doubleToRawLongBits(UnsafeApi.getDouble(o, off));
        };
    }

    private static void writeScalar(final Object o, final long off, final int k, final long v)
    {
        switch (k)
        {
            case K_BOOLEAN -> UnsafeApi.putBoolean(o, off, v != 0);
            case K_BYTE -> UnsafeApi.putByte(o, off, (byte)v);
            case K_SHORT -> UnsafeApi.putShort(o, off, (short)v);
            case K_CHAR -> UnsafeApi.putChar(o, off, (char)v);
            case K_INT -> UnsafeApi.putInt(o, off, (int)v);
            case K_FLOAT -> UnsafeApi.putFloat(o, off, Float.intBitsToFloat((int)v));
            case K_LONG -> UnsafeApi.putLong(o, off, v);
            default -> UnsafeApi.putDouble(o, off, Double.longBitsToDouble(v));
        }
    }

    /**
     * Checks that an image of {@code length} bytes fits this object: null when it does, else why not (a
     * truncated image, a final array of another length: the configuration changed).
     */
    public String check(final DirectBuffer buffer, final int index, final int length)
    {
        int at = index;
        final int end = index + length;
        for (int i = 0; i < holder.length; i++)
        {
            final int k = kind[i];
            if ((k & ARRAY) == 0)
            {
                at += 8;
                if (at > end)
                {
                    return "image truncated at " + name[i];
                }
                continue;
            }
            if (at + 4 > end)
            {
                return "image truncated at " + name[i];
            }
            final int saved = buffer.getInt(at);
            at += 4;
            final Object a = UnsafeApi.getReference(holder[i], offset[i]);
            final int current = a == null ? -1 : arrayLength(a, k);
            if (saved < -1 || saved > (1 << 28) || fixedLength[i] && saved != current)
            {
                return name[i] + " holds " + saved + " entries, this configuration " + current;
            }
            at += saved < 0 ? 0 : saved * width(k);
            if (at > end)
            {
                return "image truncated at " + name[i];
            }
        }
        return at == end ? null : "image has " + (end - at) + " bytes more than this layout";
    }

    /** Restores an image {@link #check} accepted. */
    public void restore(final DirectBuffer buffer, final int index)
    {
        int at = index;
        final byte[] base = buffer.byteArray();
        final long address = buffer.addressOffset();
        for (int i = 0; i < holder.length; i++)
        {
            final int k = kind[i];
            if ((k & ARRAY) == 0)
            {
                writeScalar(holder[i], offset[i], k, buffer.getLong(at));
                at += 8;
                continue;
            }
            final int saved = buffer.getInt(at);
            at += 4;
            Object a = UnsafeApi.getReference(holder[i], offset[i]);
            if (saved < 0)
            {
                continue;
            }
            if (a == null || arrayLength(a, k) != saved)
            {
                a = java.lang.reflect.Array.newInstance(arrayClass(k).getComponentType(), saved);
                UnsafeApi.putReference(holder[i], offset[i], a);
            }
            final long bytes = (long)saved * width(k);
            UnsafeApi.copyMemory(base, address + at, a, UnsafeApi.arrayBaseOffset(a.getClass()), bytes);
            at += (int)bytes;
        }
    }

    @Override
    public String toString()
    {
        return "ObjectImage" + Arrays.toString(name);
    }
}
