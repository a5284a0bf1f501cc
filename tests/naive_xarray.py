"""Slow, obviously correct XArray model: a dict of entries plus the node set the kernel's
tree has for that key set.

For order-0 entries the shape of a Linux XArray depends only on the set of indices
present: when any index other than 0 is present the tree has
``H = ceil(bitlen(max index) / chunk_shift)`` levels and one node for every distinct
prefix ``(level, index >> (chunk_shift * (level + 1)))`` of every present index; a tree
holding only index 0 keeps it in the head and has no node.  Lookups visit the nodes
that exist along the index's path from the root, none when the index is above the
root's range or the tree has no node.
"""


class NaiveXArray:
    def __init__(self, chunk_shift=6):
        self.cs = chunk_shift
        self.d = {}
        self.visits = 0

    def store(self, index, value):
        self.d[index] = value

    def erase(self, index):
        return self.d.pop(index, None)

    def height(self):
        keys = [k for k in self.d]
        if not keys or max(keys) == 0:
            return 0
        bits = max(keys).bit_length()
        return -(-bits // self.cs)

    def nodes(self):
        h = self.height()
        out = set()
        for k in self.d:
            for level in range(h):
                out.add((level, k >> (self.cs * (level + 1))))
        return out

    def load(self, index):
        h = self.height()
        if h:
            if (index >> (self.cs * (h - 1))) <= (1 << self.cs) - 1:
                nodes = self.nodes()
                for level in range(h - 1, -1, -1):
                    if (level, index >> (self.cs * (level + 1))) not in nodes:
                        break
                    self.visits += 1
        return self.d.get(index)
