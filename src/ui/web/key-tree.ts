// Keys arranged as a tree by their `/`-separated segments. One name can be
// both a key and a folder ("app" and "app/db"), so a node may be both.

export interface TreeNode {
  name: string;
  /** The prefix this node stands for: "app/db" for the folder of keys "app/db/...". */
  path: string;
  isKey: boolean;
  children: TreeNode[];
}

export function keyTree(keys: Iterable<string>): TreeNode {
  const root: TreeNode = { name: "", path: "", isKey: false, children: [] };
  const index = new Map<string, TreeNode>([["", root]]);
  for (const key of [...keys].sort()) {
    let parent = root;
    const segments = key.split("/");
    segments.forEach((name, i) => {
      const path = segments.slice(0, i + 1).join("/");
      let node = index.get(path);
      if (!node) {
        node = { name, path, isKey: false, children: [] };
        index.set(path, node);
        parent.children.push(node);
      }
      if (i === segments.length - 1) node.isKey = true;
      parent = node;
    });
  }
  return root;
}
