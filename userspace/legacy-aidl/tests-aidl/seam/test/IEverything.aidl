package seam.test;

import seam.test.Item;
import seam.test.IListener;

/** Every construct aidl-gen supports, for its tests. */
interface IEverything {
    int numbers(boolean b, byte y, char c, int i, long l, float f, double d);
    String strings(String s, @nullable String n);
    @nullable String maybe(boolean give);
    byte[] bytes(in byte[] b);
    int[] ints(in int[] i);
    long[] longs(in long[] l);
    boolean[] bools(in boolean[] b);
    String[] texts(in String[] s);
    Item item(in Item i);
    Item[] items(in Item[] i);
    List<Item> list(in List<Item> i);
    void listen(IListener l, IBinder b);
    oneway void fire(int n);
    void fail(int code);
    void after();
}
