package io.passgate.control;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The little JSON the control API speaks: objects, arrays, strings, numbers, booleans and null, read into
 * maps and lists and written from them. Control path only; no dependency for so little.
 */
public final class Json
{
    private Json()
    {
    }

    /** Parses a JSON object (nested objects and arrays allowed); throws IllegalArgumentException with a reason. */
    public static Map<String, Object> parseObject(final String text)
    {
        final Parser p = new Parser(text.strip());
        final Map<String, Object> out = p.object();
        p.skipSpace();
        if (p.i != p.s.length())
        {
            throw new IllegalArgumentException("trailing characters after the object");
        }
        return out;
    }

    private static final class Parser
    {
        final String s;
        int i;
        int depth;

        Parser(final String s)
        {
            this.s = s;
        }

        void skipSpace()
        {
            while (i < s.length() && Character.isWhitespace(s.charAt(i)))
            {
                i++;
            }
        }

        char peek()
        {
            skipSpace();
            if (i >= s.length())
            {
                throw new IllegalArgumentException("unexpected end of input");
            }
            return s.charAt(i);
        }

        void expect(final char c)
        {
            if (peek() != c)
            {
                throw new IllegalArgumentException("expected '" + c + "' at " + i);
            }
            i++;
        }

        Map<String, Object> object()
        {
            final Map<String, Object> map = new LinkedHashMap<>();
            expect('{');
            if (peek() == '}')
            {
                i++;
                return map;
            }
            while (true)
            {
                final String key = string();
                expect(':');
                map.put(key, value());
                if (peek() == ',')
                {
                    i++;
                    continue;
                }
                expect('}');
                return map;
            }
        }

        Object value()
        {
            final char c = peek();
            if (c == '"')
            {
                return string();
            }
            if (c == '{')
            {
                if (++depth > 32)
                {
                    throw new IllegalArgumentException("nested too deep");
                }
                final Map<String, Object> m = object();
                depth--;
                return m;
            }
            if (c == '[')
            {
                if (++depth > 32)
                {
                    throw new IllegalArgumentException("nested too deep");
                }
                final List<Object> list = new java.util.ArrayList<>();
                i++;
                if (peek() == ']')
                {
                    i++;
                    depth--;
                    return list;
                }
                while (true)
                {
                    list.add(value());
                    if (peek() == ',')
                    {
                        i++;
                        continue;
                    }
                    expect(']');
                    depth--;
                    return list;
                }
            }
            if (s.startsWith("true", i))
            {
                i += 4;
                return Boolean.TRUE;
            }
            if (s.startsWith("false", i))
            {
                i += 5;
                return Boolean.FALSE;
            }
            if (s.startsWith("null", i))
            {
                i += 4;
                return null;
            }
            if (c == '-' || Character.isDigit(c))
            {
                final int start = i;
                while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0)
                {
                    i++;
                }
                final String number = s.substring(start, i);
                final Object value;
                try
                {
                    value = number.contains(".") || number.contains("e") || number.contains("E")
                        ? (Object)Double.parseDouble(number) : (Object)Long.parseLong(number);
                }
                catch (final NumberFormatException e)
                {
                    throw new IllegalArgumentException("bad number " + number);
                }
                // beyond a double's range parses as an infinity, which JSON cannot write back (found by
                // JsonFuzzTest: write() gave "-Infinity")
                if (value instanceof Double d && d.isInfinite())
                {
                    throw new IllegalArgumentException("number out of range " + number);
                }
                return value;
            }
            throw new IllegalArgumentException("unexpected character at " + i);
        }

        String string()
        {
            expect('"');
            final StringBuilder b = new StringBuilder();
            while (i < s.length())
            {
                final char c = s.charAt(i++);
                if (c == '"')
                {
                    return b.toString();
                }
                if (c == '\\')
                {
                    if (i >= s.length())
                    {
                        break;
                    }
                    final char e = s.charAt(i++);
                    switch (e)
                    {
                        case 'n' -> b.append('\n');
                        case 't' -> b.append('\t');
                        case 'r' -> b.append('\r');
                        case 'u' ->
                        {
                            if (i + 4 > s.length())
                            {
                                throw new IllegalArgumentException("bad escape");
                            }
                            b.append((char)Integer.parseInt(s.substring(i, i + 4), 16));
                            i += 4;
                        }
                        default -> b.append(e);
                    }
                }
                else
                {
                    b.append(c);
                }
            }
            throw new IllegalArgumentException("unterminated string");
        }
    }

    /** Writes a value: Map, List, CharSequence, Number, Boolean or null. */
    public static String write(final Object value)
    {
        final StringBuilder b = new StringBuilder();
        write(b, value);
        return b.toString();
    }

    private static void write(final StringBuilder b, final Object value)
    {
        if (value == null)
        {
            b.append("null");
        }
        else if (value instanceof Map<?, ?> map)
        {
            b.append('{');
            final Iterator<? extends Map.Entry<?, ?>> it = map.entrySet().iterator();
            while (it.hasNext())
            {
                final Map.Entry<?, ?> e = it.next();
                string(b, String.valueOf(e.getKey()));
                b.append(':');
                write(b, e.getValue());
                if (it.hasNext())
                {
                    b.append(',');
                }
            }
            b.append('}');
        }
        else if (value instanceof List<?> list)
        {
            b.append('[');
            for (int i = 0; i < list.size(); i++)
            {
                if (i > 0)
                {
                    b.append(',');
                }
                write(b, list.get(i));
            }
            b.append(']');
        }
        else if ((value instanceof Double d && !Double.isFinite(d)) || (value instanceof Float f && !Float.isFinite(f)))
        {
            b.append("null");   // JSON has no NaN or infinities
        }
        else if (value instanceof Number || value instanceof Boolean)
        {
            b.append(value);
        }
        else
        {
            string(b, value.toString());
        }
    }

    private static void string(final StringBuilder b, final String s)
    {
        b.append('"');
        for (int i = 0; i < s.length(); i++)
        {
            final char c = s.charAt(i);
            switch (c)
            {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default ->
                {
                    if (c < 0x20)
                    {
                        b.append(String.format("\\u%04x", (int)c));
                    }
                    else
                    {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }
}
